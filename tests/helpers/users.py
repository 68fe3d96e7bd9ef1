"""Fixtures: users."""
