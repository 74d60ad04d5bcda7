"""MLNode mocks: WireMock mappings generator, WireMock/nginx runners, journal reader (see README.md here)."""
