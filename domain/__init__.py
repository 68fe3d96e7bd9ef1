"""The vocabulary shared by engine, gateway and persistence: statuses and domain errors."""
