"""Fixtures: catalog."""
