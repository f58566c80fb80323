"""Shared test configuration. Unit tests never start Ray; integration tests share one cluster."""
