"""Tests of harness/ops and harness/cli.py: the operator CLI in process and as `harness up` runs it, `harness audit
--live`, and every command's exit-code contract."""
