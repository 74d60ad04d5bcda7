"""Backends: embedded (our own processes), docker (testcontainers), external (URLs). All return a Testnet."""
