"""The gonka backend's entry points for the registry (harness/backends/registry.py): one participant is a
GonkaTestnet, several a GonkaNetworkTestnet (genesis validators, each its own API node)."""

from __future__ import annotations

from pathlib import Path

from harness.backends.base import BaseTestnet, TestnetRequest
from harness.backends.contract import Capability
from harness.backends.gonka.testnet import CAPABILITIES, GonkaTestnet
from harness.options import RunOptions


def capabilities(opts: RunOptions) -> frozenset[Capability]:
    return CAPABILITIES | {Capability.PARTICIPANTS}  # participants=N: harness/backends/gonka/network.py


def describe(opts: RunOptions) -> str:
    return f"your decentralized-api and inferenced from {opts.gonka_bin}"


def make(opts: RunOptions, workdir: Path, request: TestnetRequest) -> BaseTestnet:
    if request.several:
        from harness.backends.gonka.network import GonkaNetworkTestnet  # lazy: only a network needs it (start-up)

        return GonkaNetworkTestnet(opts, workdir, participants=request.participants, nodes=request.mlnodes)
    return GonkaTestnet(opts, workdir, nodes=request.mlnodes, chaos=request.chaos)
