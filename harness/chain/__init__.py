"""Chain side of the harness: keys, signed transactions, governance, queries (works against simnet and a real Gonka node)."""
