"""Fixtures for tests of the harness's own parts."""
