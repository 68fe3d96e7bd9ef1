-- A venue's stage and section placement (domain/geometry.py), as the organizer gave them; NULL
-- for venues without, which are drawn in the default arrangement. Seat positions are derived
-- from it, never stored, so the rule that places seats lives in one place.
ALTER TABLE venues ADD COLUMN IF NOT EXISTS geometry JSON NULL;
