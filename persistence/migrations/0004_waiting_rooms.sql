-- An event's waiting room as its organizer set it (domain/waiting_room.py). The queue itself
-- (places, ranks, admissions) is the engine's, kept in Redis beside the event's seats; this row
-- is what the engine loads with the event. `version` rises with every save so the engine can
-- ignore a configuration that arrives after a newer one.
CREATE TABLE IF NOT EXISTS waiting_rooms (
    event_id              BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    enabled               BOOLEAN NOT NULL,
    queue_opens_at        DATETIME(6) NOT NULL,
    admissions_per_minute INT UNSIGNED NOT NULL,
    max_inside            INT UNSIGNED NOT NULL,
    session_seconds       INT UNSIGNED NOT NULL,
    paused                BOOLEAN NOT NULL DEFAULT FALSE,
    version               BIGINT UNSIGNED NOT NULL,
    updated_at            DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
        ON UPDATE CURRENT_TIMESTAMP(6),
    CONSTRAINT fk_waiting_rooms_event FOREIGN KEY (event_id) REFERENCES events (id)
) ENGINE=InnoDB;
