"""The seat engine: sharded single-writer actors fed by Redis list queues."""
