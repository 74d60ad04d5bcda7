"""Tests of harness/report and what a run shows a person: the HTML report in headless Chromium, `harness demo`'s output,
docs/upstream-results.md."""
