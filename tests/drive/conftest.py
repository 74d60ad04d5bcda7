"""Tests of harness/drive without a testnet: a hop's judgement and schedule, the edge cases' harness side, documented
upstream outcomes, a failure bundle's clocks."""
