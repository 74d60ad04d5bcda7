"""The embedded backend's entry points for the registry (harness/backends/registry.py)."""

from __future__ import annotations

from pathlib import Path

from harness.backends.base import TestnetRequest
from harness.backends.contract import Capability
from harness.backends.embedded.testnet import EmbeddedTestnet
from harness.options import RunOptions


def capabilities(opts: RunOptions) -> frozenset[Capability]:
    return EmbeddedTestnet.capabilities


def describe(opts: RunOptions) -> str:
    return f"model apinode (profile {opts.api_profile}) on model simnet"


def make(opts: RunOptions, workdir: Path, request: TestnetRequest) -> EmbeddedTestnet:
    return EmbeddedTestnet(
        opts,
        workdir,
        nodes=request.mlnodes,
        participants=request.participants,
        chaos=request.chaos,
        voting_period_blocks=request.voting_period_blocks,
        api_overrides=request.api_overrides,
        api_intervals=request.api_intervals,
        chain_holds=True if request.operator else None,
    )
