"""Tests of harness/util and the value checks: versions, ports, waits, supervised processes, keys, progress lines, CPU
load, the temp-folder guard, harness/validate.py."""
