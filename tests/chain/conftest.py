"""Tests of harness/chain: transactions built and signed, and a partial upgrade through governance on simnet."""
