-- Best-available holds and the no-orphan rule (domain/seat_ranking.py, engine/seat_index.py).
-- `seat_rank` is the organizer's override of the seat order (1 best; NULL: by distance from the
-- stage), stored per seat with a row's rank already spread over its seats. `no_single_gaps`
-- makes the engine refuse holds that strand a single free seat; existing events keep it off.
ALTER TABLE seats ADD COLUMN IF NOT EXISTS seat_rank INT UNSIGNED NULL;
ALTER TABLE events ADD COLUMN IF NOT EXISTS no_single_gaps BOOLEAN NOT NULL DEFAULT FALSE;
