"""Fixtures for tests of the harness's own parts, shared by more than one folder of tests/ (a folder's own fixtures
are in its conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.chain import ChainClient
from harness.model.simnet import Genesis, Simnet


@pytest.fixture(scope="module")
def gov_simnet() -> Iterator[Simnet]:
    """simnet as the governance tests drive it (tests/chain, tests/model, tests/ops): 0.1 s blocks, a 3-block voting
    period, already past height 3 (enough blocks to measure the block time); one per module that asks for it."""
    with Simnet(Genesis(block_time_s=0.1, voting_period_blocks=3), port=0) as sim:
        with ChainClient(sim.rpc_url) as c:
            c.rpc.wait_for_height(3, timeout_s=10.0)
        yield sim


@pytest.fixture
def gov_chain(gov_simnet: Simnet) -> Iterator[ChainClient]:
    """A chain client on gov_simnet, one per test."""
    with ChainClient(gov_simnet.rpc_url) as c:
        yield c
