"""Small shared mechanics: ports, waits, supervised processes, background event loops."""
