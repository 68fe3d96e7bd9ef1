-- Handled webhook events are pruned once the provider can no longer redeliver them; this index
-- lets that DELETE find old rows without scanning the table.
ALTER TABLE payment_events ADD INDEX IF NOT EXISTS ix_payment_events_received (received_at);
