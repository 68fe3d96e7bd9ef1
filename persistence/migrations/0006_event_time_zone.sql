-- Each event's IANA time zone (e.g. Europe/Amsterdam): the buyer's page shows the event's
-- times in it, as they read on the ticket. Events made before this migration get 'UTC', the
-- zone their times were stored in; an organizer's API or CLI call sets it for new events.
ALTER TABLE events ADD COLUMN IF NOT EXISTS time_zone VARCHAR(64) NOT NULL DEFAULT 'UTC';
