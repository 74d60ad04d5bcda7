"""The testnet `harness up` and `harness demo` start, from their command-line options: shared by backends/cli.py and
backends/demo.py, so that demo.py never imports the cli module that dispatches to it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from harness.options import RunOptions, build_options

if TYPE_CHECKING:
    from harness.backends.embedded import EmbeddedTestnet
    from harness.backends.gonka import GonkaTestnet
    from harness.backends.gonka.network import GonkaNetworkTestnet


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


UP_BACKENDS = ("embedded", "gonka")


def make_testnet(
    opts: RunOptions, workdir: Path, *, participants: int = 1, operator: bool = False
) -> EmbeddedTestnet | GonkaTestnet | GonkaNetworkTestnet:
    """The testnet `harness up` and `harness demo` start: the embedded model, or the user's real binaries. (A docker
    testnet is started by pytest --backend docker; an external one is already running: describe it with --env-file.)
    `operator`: `harness up`, whose commands (`harness upgrade`, `audit --live`) judge on the chain clock: the
    embedded chain holds H and H+1 itself."""
    from harness.backends.contract import participant_specs
    from harness.errors import ConfigError

    specs = participant_specs(participants)  # the count is checked before anything starts
    if opts.backend == "embedded":
        from harness.backends.embedded import EmbeddedTestnet

        return EmbeddedTestnet(opts, workdir, participants=specs, chain_holds=operator)
    if opts.backend == "gonka" and len(specs) > 1:
        from harness.backends.gonka.network import GonkaNetworkTestnet

        return GonkaNetworkTestnet(opts, workdir, participants=specs)
    if len(specs) > 1:
        raise ConfigError(f"--participants {participants}: only the embedded and gonka backends run several participants")
    if opts.backend == "gonka":
        from harness.backends.gonka import GonkaTestnet

        return GonkaTestnet(opts, workdir)
    raise ConfigError(
        f"--backend {opts.backend}: `harness up` and `harness demo` start {' or '.join(UP_BACKENDS)} testnets; a docker "
        "testnet is started by `pytest --backend docker`, and an external one is already up (point commands at it "
        "with --env-file)"
    )
