"""Tests of harness/mlnode: the MLNode mocks on real WireMock (endpoints, lifecycle modes, faults) and the side-by-side
nginx topology."""
