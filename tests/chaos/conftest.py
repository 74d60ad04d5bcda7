"""Tests of harness/chaos: the chaos proxy's faults, holds, control API and input boundary, and the ChaosDriver."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.chaos.testing import RpcUpstream


@pytest.fixture(scope="module")
def upstream() -> Iterator[RpcUpstream]:
    """A small real upstream (JSON-RPC over HTTP and a websocket) for a module's proxies to sit in front of."""
    with RpcUpstream() as up:
        yield up
