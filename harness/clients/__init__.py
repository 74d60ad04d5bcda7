"""Clients of the API node under test: chat, admin and debug calls (`api.py`), signed where the node wants it."""
