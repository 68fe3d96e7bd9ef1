"""Fixtures: engine."""
