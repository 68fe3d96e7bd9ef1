-- Users, catalog, seat state, holds, payments and bookings.
-- Money is integer minor units. Times are UTC DATETIME(6).

CREATE TABLE IF NOT EXISTS users (
    id            BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    email         VARCHAR(254) NOT NULL,
    name          VARCHAR(200) NOT NULL,
    password_hash VARCHAR(255) NOT NULL,
    role          ENUM('buyer', 'admin') NOT NULL DEFAULT 'buyer',
    created_at    DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    UNIQUE KEY uq_users_email (email)
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS venues (
    id         BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name       VARCHAR(200) NOT NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS price_categories (
    id       BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    venue_id BIGINT UNSIGNED NOT NULL,
    code     VARCHAR(32) NOT NULL,
    name     VARCHAR(100) NOT NULL,
    UNIQUE KEY uq_categories_code (venue_id, code),
    CONSTRAINT fk_categories_venue FOREIGN KEY (venue_id) REFERENCES venues (id)
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS seats (
    id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    venue_id    BIGINT UNSIGNED NOT NULL,
    section     VARCHAR(32) NOT NULL,
    row_label   VARCHAR(16) NOT NULL,
    number      INT UNSIGNED NOT NULL,
    category_id BIGINT UNSIGNED NOT NULL,
    UNIQUE KEY uq_seats_position (venue_id, section, row_label, number),
    CONSTRAINT fk_seats_venue FOREIGN KEY (venue_id) REFERENCES venues (id),
    CONSTRAINT fk_seats_category FOREIGN KEY (category_id) REFERENCES price_categories (id)
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS events (
    id                  BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    venue_id            BIGINT UNSIGNED NOT NULL,
    name                VARCHAR(200) NOT NULL,
    starts_at           DATETIME(6) NOT NULL,
    sale_starts_at      DATETIME(6) NOT NULL,
    sale_ends_at        DATETIME(6) NOT NULL,
    currency            CHAR(3) NOT NULL,
    max_seats_per_buyer INT UNSIGNED NOT NULL DEFAULT 6,
    created_at          DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    KEY ix_events_starts (starts_at),
    CONSTRAINT fk_events_venue FOREIGN KEY (venue_id) REFERENCES venues (id),
    CONSTRAINT ck_events_sale_window CHECK (sale_starts_at < sale_ends_at)
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS event_prices (
    event_id     BIGINT UNSIGNED NOT NULL,
    category_id  BIGINT UNSIGNED NOT NULL,
    amount_minor BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (event_id, category_id),
    CONSTRAINT fk_prices_event FOREIGN KEY (event_id) REFERENCES events (id),
    CONSTRAINT fk_prices_category FOREIGN KEY (category_id) REFERENCES price_categories (id)
) ENGINE=InnoDB;

-- Holds are written behind by the engine; the engine's actor is their only writer.
CREATE TABLE IF NOT EXISTS holds (
    id          VARCHAR(64) NOT NULL PRIMARY KEY,
    event_id    BIGINT UNSIGNED NOT NULL,
    user_id     BIGINT UNSIGNED NOT NULL,
    status      ENUM('held', 'checkout', 'released', 'expired', 'booked') NOT NULL,
    expires_at  DATETIME(6) NOT NULL,
    created_at  DATETIME(6) NOT NULL,
    updated_at  DATETIME(6) NOT NULL,
    KEY ix_holds_status_expiry (status, expires_at),
    KEY ix_holds_user (user_id, event_id),
    CONSTRAINT fk_holds_event FOREIGN KEY (event_id) REFERENCES events (id),
    CONSTRAINT fk_holds_user FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS event_seats (
    id              BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    event_id        BIGINT UNSIGNED NOT NULL,
    seat_id         BIGINT UNSIGNED NOT NULL,
    status          ENUM('available', 'held', 'booked') NOT NULL DEFAULT 'available',
    hold_id         VARCHAR(64) NULL,
    holder_id       BIGINT UNSIGNED NULL,
    hold_expires_at DATETIME(6) NULL,
    version         BIGINT UNSIGNED NOT NULL DEFAULT 0,
    UNIQUE KEY uq_event_seats (event_id, seat_id),
    KEY ix_event_seats_status (event_id, status),
    KEY ix_event_seats_hold (hold_id),
    CONSTRAINT fk_event_seats_event FOREIGN KEY (event_id) REFERENCES events (id),
    CONSTRAINT fk_event_seats_seat FOREIGN KEY (seat_id) REFERENCES seats (id),
    CONSTRAINT fk_event_seats_holder FOREIGN KEY (holder_id) REFERENCES users (id)
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS hold_seats (
    hold_id       VARCHAR(64) NOT NULL,
    event_seat_id BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (hold_id, event_seat_id),
    KEY ix_hold_seats_seat (event_seat_id),
    CONSTRAINT fk_hold_seats_hold FOREIGN KEY (hold_id) REFERENCES holds (id),
    CONSTRAINT fk_hold_seats_seat FOREIGN KEY (event_seat_id) REFERENCES event_seats (id)
) ENGINE=InnoDB;

-- One payment per hold: a checkout is planned (status 'creating', with the exact parameters sent
-- to the provider) before the provider is called, so a retried call sends identical parameters.
CREATE TABLE IF NOT EXISTS payments (
    id                BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    hold_id           VARCHAR(64) NOT NULL,
    user_id           BIGINT UNSIGNED NOT NULL,
    event_id          BIGINT UNSIGNED NOT NULL,
    provider          VARCHAR(16) NOT NULL,
    session_id        VARCHAR(255) NULL,
    checkout_url      VARCHAR(2048) NULL,
    payment_intent_id VARCHAR(255) NULL,
    amount_minor      BIGINT UNSIGNED NOT NULL,
    currency          CHAR(3) NOT NULL,
    status            ENUM('creating', 'open', 'paid', 'failed', 'expired', 'refund_pending',
                           'refunded') NOT NULL DEFAULT 'creating',
    expires_at        DATETIME(6) NOT NULL,
    created_at        DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at        DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    UNIQUE KEY uq_payments_hold (hold_id),
    UNIQUE KEY uq_payments_session (session_id),
    KEY ix_payments_user (user_id),
    CONSTRAINT fk_payments_user FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT fk_payments_event FOREIGN KEY (event_id) REFERENCES events (id)
) ENGINE=InnoDB;

-- Written through when a payment is confirmed. No foreign key to holds: hold rows are written
-- behind by the engine and may land after the booking.
CREATE TABLE IF NOT EXISTS bookings (
    id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    event_id     BIGINT UNSIGNED NOT NULL,
    user_id      BIGINT UNSIGNED NOT NULL,
    hold_id      VARCHAR(64) NOT NULL,
    payment_id   BIGINT UNSIGNED NOT NULL,
    amount_minor BIGINT UNSIGNED NOT NULL,
    currency     CHAR(3) NOT NULL,
    created_at   DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    UNIQUE KEY uq_bookings_hold (hold_id),
    UNIQUE KEY uq_bookings_payment (payment_id),
    KEY ix_bookings_user (user_id, created_at),
    CONSTRAINT fk_bookings_event FOREIGN KEY (event_id) REFERENCES events (id),
    CONSTRAINT fk_bookings_user FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT fk_bookings_payment FOREIGN KEY (payment_id) REFERENCES payments (id)
) ENGINE=InnoDB;

-- One row per booked event seat: the unique key makes a double booking impossible here too.
CREATE TABLE IF NOT EXISTS booking_seats (
    booking_id    BIGINT UNSIGNED NOT NULL,
    event_seat_id BIGINT UNSIGNED NOT NULL,
    amount_minor  BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (booking_id, event_seat_id),
    UNIQUE KEY uq_booking_seats_seat (event_seat_id),
    CONSTRAINT fk_booking_seats_booking FOREIGN KEY (booking_id) REFERENCES bookings (id),
    CONSTRAINT fk_booking_seats_seat FOREIGN KEY (event_seat_id) REFERENCES event_seats (id)
) ENGINE=InnoDB;

-- Provider webhook events already handled: a redelivery changes nothing.
CREATE TABLE IF NOT EXISTS payment_events (
    id          VARCHAR(255) NOT NULL PRIMARY KEY,
    type        VARCHAR(100) NOT NULL,
    session_id  VARCHAR(255) NULL,
    received_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB;

-- Work for the payment provider that must happen after a decision (expire a checkout session,
-- refund a payment), written in the same transaction as the decision's record and done by the
-- outbox worker with retries. `dedupe_key` makes writing the same intent twice a no-op.
CREATE TABLE IF NOT EXISTS outbox (
    id              BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    kind            ENUM('expire_session', 'refund') NOT NULL,
    dedupe_key      VARCHAR(255) NOT NULL,
    payload         TEXT NOT NULL,
    attempts        INT UNSIGNED NOT NULL DEFAULT 0,
    next_attempt_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    last_error      TEXT NULL,
    done_at         DATETIME(6) NULL,
    created_at      DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    UNIQUE KEY uq_outbox_dedupe (dedupe_key),
    KEY ix_outbox_due (done_at, next_attempt_at)
) ENGINE=InnoDB;

-- The write-behind fence: one row per shard. A flush commits only while its fencing token is the
-- newest, and records the last journal entry applied, so replays are no-ops.
CREATE TABLE IF NOT EXISTS shard_fences (
    shard           INT UNSIGNED NOT NULL PRIMARY KEY,
    token           BIGINT UNSIGNED NOT NULL,
    last_journal_id VARCHAR(40) NOT NULL DEFAULT '0-0',
    updated_at      DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB;
