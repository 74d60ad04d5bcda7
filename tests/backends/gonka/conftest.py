"""Tests of harness/backends/gonka that need no Gonka binaries: options, binary checks, genesis and config files, PoC
windows, chat signatures, the snapshot cache."""
