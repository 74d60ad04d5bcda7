"""The docker backend's entry points for the registry (harness/backends/registry.py)."""

from __future__ import annotations

from pathlib import Path

from harness.backends.base import TestnetRequest
from harness.backends.contract import Capability
from harness.backends.docker.testnet import LOCAL_CAPABILITIES, UPSTREAM_CAPABILITIES, DockerTestnet
from harness.options import RunOptions


def _upstream_api(opts: RunOptions) -> bool:
    return opts.images == "upstream" or "api" in opts.image_overrides


def capabilities(opts: RunOptions) -> frozenset[Capability]:
    return UPSTREAM_CAPABILITIES if _upstream_api(opts) else LOCAL_CAPABILITIES


def describe(opts: RunOptions) -> str:
    if _upstream_api(opts):
        return "decentralized-api image (unverified path)"
    return f"model apinode (profile {opts.api_profile}), containers"


def make(opts: RunOptions, workdir: Path, request: TestnetRequest) -> DockerTestnet:
    voting = {"voting_period_blocks": request.voting_period_blocks} if request.voting_period_blocks is not None else {}
    return DockerTestnet(
        opts,
        workdir,
        nodes=request.nodes,
        chaos=request.chaos,
        network_mode=request.network_mode,
        **voting,
        api_overrides=request.api_overrides,
        api_intervals=request.api_intervals,
    )
