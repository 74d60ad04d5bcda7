"""Tests of harness/cometbft: the CometBFT client against the fake chain (tests/support/cometbft_fake.py)."""
