"""The testnet `harness up` and `harness demo` start, from their command-line options: shared by ops/up.py and
ops/demo.py, so that demo.py never imports the cli module that dispatches to it.

Imports inside functions are on purpose here: each `harness` command loads only its own module (harness/cli.py), so
a command pays at start-up only for what it runs."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from harness.options import RunOptions, build_options

if TYPE_CHECKING:
    from harness.backends.base import BaseTestnet


def options_from_args(args: argparse.Namespace) -> RunOptions:
    """The run options `harness up` and `harness demo` were given."""
    return build_options(
        backend=args.backend,
        versions=args.versions,
        api_profile=args.api_profile,
        topology=args.topology,
        block_time=args.block_time,
        gonka_bin=args.gonka_bin,
        gonka_revision=args.gonka_revision,
        gonka_cache=args.gonka_cache,
        mlnode_exclusive=args.mlnode_exclusive,
        mlnode_slow_start=args.mlnode_slow_start,
    )


def make_testnet(opts: RunOptions, workdir: Path, *, participants: int = 1, operator: bool = False) -> BaseTestnet:
    """The testnet `harness up` and `harness demo` start (a backend whose registry entry says `runs_up`: the embedded
    model, or the user's real binaries). A docker testnet is started by pytest --backend docker; an external one is
    already running: describe it with --env-file. `operator`: `harness up`, whose commands (`harness upgrade`,
    `audit --live`) judge on the chain clock: the embedded chain holds H and H+1 itself."""
    from harness.backends.base import TestnetRequest
    from harness.backends.contract import participant_specs
    from harness.backends.factory import make_testnet as make
    from harness.backends.registry import backend, up_backends
    from harness.errors import ConfigError

    specs = participant_specs(participants)  # the count is checked before anything starts
    if not backend(opts.backend).runs_up:
        raise ConfigError(
            f"--backend {opts.backend}: `harness up` and `harness demo` start {' or '.join(up_backends())} testnets; a "
            "docker testnet is started by `pytest --backend docker`, and an external one is already up (point commands "
            "at it with --env-file)"
        )
    return make(opts, workdir, TestnetRequest(participants=specs, operator=operator))
