"""What every process shares for being watched: its /metrics server and its log set-up."""
