"""Tests of harness/audit: records from journals, timelines, verdicts and their clocks, the network view, the MLNode
lifecycle view, the `harness audit` CLI and its input boundary."""
