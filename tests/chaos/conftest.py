"""Tests of harness/chaos: the chaos proxy's faults, holds, control API and input boundary, and the ChaosDriver."""
