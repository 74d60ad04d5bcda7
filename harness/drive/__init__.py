"""Mechanics that scenarios use: the API node's HTTP client, traffic drivers, journal collection,
and the upgrade hop runner. Scenarios stay short; the how lives here."""
