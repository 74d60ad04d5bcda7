"""Chain side of the harness: keys, signed transactions, governance, queries (simnet or a real Gonka node)."""
