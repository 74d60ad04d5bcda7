"""Tests of harness/model/apinode: its pure parts, the service against the fake chain, the chain pool, PoC phases,
hostile input, and the node against simnet with real MLNode mocks."""
