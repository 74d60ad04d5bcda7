"""`harness up` (start the embedded testnet and keep it running) and `harness demo` (the README's main job:
the upgrade path with live progress and the audit verdict).

Imports inside functions are on purpose here: each `harness` command loads only its own module (harness/cli.py), so
a command pays at start-up only for what it runs."""

from __future__ import annotations

import argparse
import shutil
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from harness.backends.registry import BACKENDS, up_backends
from harness.ops.launch import make_testnet, options_from_args
from harness.options import PROFILES, TOPOLOGIES

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from harness.backends.base import BaseTestnet
    from harness.options import RunOptions


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--versions", default=None, help="upgrade path, comma separated (default v0.3.8,v0.3.9,v0.3.10)")
    p.add_argument("--api-profile", default="reference", help=f"API node profile: {', '.join(PROFILES)}")
    p.add_argument("--topology", default="single", help=f"MLNode topology: {', '.join(TOPOLOGIES)}")
    p.add_argument("--block-time", default=None, help="block time in seconds (default 0.2)")
    p.add_argument("--workdir", default=None, help="where logs and state go (default: a new temp dir)")
    p.add_argument("--backend", default="embedded", help=" or ".join(f"{b} ({BACKENDS[b].summary})" for b in up_backends()))
    p.add_argument("--gonka-bin", default=None, help="gonka backend: directory with inferenced and decentralized-api")
    p.add_argument("--gonka-revision", default=None, help="gonka backend: a label for the binaries")
    p.add_argument("--gonka-cache", default=None, help="gonka backend: snapshot cache of serving testnets ('off': start cold)")
    p.add_argument(
        "--participants",
        type=int,
        default=1,
        metavar="N",
        help="N participants (1-5), each a validator with its own API node and MLNodes (default 1; embedded or gonka)",
    )
    p.add_argument(
        "--mlnode-exclusive",
        action="store_true",
        help="every MLNode runs one version at a time: inference/up and PoC on a version are refused (409) until the "
        "version that holds it was stopped (topology single)",
    )
    p.add_argument(
        "--mlnode-slow-start",
        default=None,
        metavar="S",
        help="every version but the start one answers 503 {\"detail\": \"loading\"} for S seconds from its first request",
    )


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    up = sub.add_parser("up", help="start the embedded testnet and keep it running until Ctrl-C")
    _common(up)
    up.add_argument("--state-file", default=None, help="where to record endpoints for later commands")
    up.set_defaults(func=cmd_up)
    demo = sub.add_parser(
        "demo", help="run the upgrade path with live progress, print the audit verdict, write a PNG and an HTML report"
    )
    _common(demo)
    demo.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="where the report goes (audit.png, report.html, logs, journals; kept); default harness-runs/demo-<time>",
    )
    demo.add_argument("--png", default=None, help="also write the audit timeline picture here")
    demo.set_defaults(func=_demo)


def cmd_up(args: argparse.Namespace) -> int:
    from rich.console import Console

    from harness.ops.state import make_temp_workdir

    console = Console()
    opts = options_from_args(args)
    workdir, token = (Path(args.workdir), "") if args.workdir else make_temp_workdir()
    try:
        return _run_up(args, console, opts, workdir, token)
    finally:
        if token:  # the temp workdir `harness up` made is gone afterwards (--workdir DIR keeps the logs)
            shutil.rmtree(workdir, ignore_errors=True)


def _run_up(args: argparse.Namespace, console: Console, opts: RunOptions, workdir: Path, token: str) -> int:
    from harness.ops.context import state_path_of
    from harness.ops.state import claim_state, write_state

    tn = make_testnet(opts, workdir, participants=args.participants, operator=True)  # refuses what it cannot start
    claim = claim_state(state_path_of(args))  # before anything starts: one testnet per state file
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        console.print(f"starting the {opts.backend} testnet ({tn.info.api_under_test})...")  # long waits report themselves
        tn.start()
        state_path = write_state(tn, claim.path, workdir_token=token, owner=claim.owner)
        env_path = _write_env_file(tn, state_path.with_suffix(".env"))
        console.print(endpoints_table(tn))
        kept = "" if not token else " (a temp dir, removed on exit; --workdir DIR keeps them)"
        console.print(f"state file: {state_path}\nlogs: {tn.workdir / 'logs'}{kept}", soft_wrap=True)
        for line in follow_up_commands(state_path, env_path, default=args.state_file is None, backend=opts.backend):
            print(line, flush=True)  # plain print: a terminal's width never breaks a command in two
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        try:
            tn.close()
        finally:
            claim.release()  # its own state and env files only
    return 0


def follow_up_commands(state_path: Path, env_path: Path | None, *, default: bool, backend: str = "embedded") -> list[str]:
    """What to run next, each line pasteable as it is (harness.util.invocation)."""
    import shlex

    from harness.util.invocation import cli_command, test_command

    cli = cli_command()
    sf = "" if default else f" --state-file {shlex.quote(str(state_path))}"
    lines = [
        "next, in another terminal:",
        f"  {cli} status{sf}",
        f"  {cli} upgrade --to v0.3.9 {BACKENDS[backend].up_upgrade} --wait{sf}",
        f"  {cli} audit --live{sf}",
    ]
    if env_path is not None:
        lines.append(f"  {test_command()} -m stable --backend external --env-file {shlex.quote(str(env_path))}")
    lines.append(f"stop: Ctrl-C here, or {cli} down{sf}")
    return lines


def _write_env_file(tn: BaseTestnet, path: Path) -> Path | None:
    """The testnet described for `--backend external`; None for a topology an env file cannot describe."""
    from harness.backends.external import env_file_text
    from harness.errors import ConfigError

    try:
        text = env_file_text(tn)
    except ConfigError:
        return None
    path.write_text(text)
    return path


def endpoints_table(tn: BaseTestnet) -> Table:
    from rich.table import Table

    from harness.errors import StartupError

    t = Table(title=f"{tn.info.backend} testnet: {tn.info.under_test()}", show_lines=False)
    t.add_column("component")
    t.add_column("endpoint")
    e = tn.endpoints
    if e is None:
        raise StartupError(f"{tn.info.backend} testnet: not started, no endpoints to show")
    t.add_row("chain RPC (CometBFT)", e.chain_rpc)
    t.add_row("chain websocket", e.chain_ws)
    t.add_row("API node chain URL", e.api_chain_rpc)
    t.add_row("API public", e.api_public)
    t.add_row("API admin", e.api_admin)
    if e.chaos_control:
        t.add_row("chaos proxy control", e.chaos_control)
    parts = tn.participants
    for p in parts:
        if len(parts) > 1:
            t.add_row(f"participant {p.id}", f"validator {p.validator.address if p.validator else '-'} (power {p.power})")
            t.add_row("  API public / admin", f"{p.api_public}  {p.api_admin}")
        for n in p.mlnodes:
            t.add_row(f"MLNode {n.id}", f"poc :{n.poc_port}  inference :{n.inference_port}")
            for k, url in n.journals.items():
                t.add_row(f"  WireMock {k}", url)
    for mocks in tn.mock_sets():
        for node_id, lifecycle in mocks.lifecycles.items():
            if not lifecycle.default:
                t.add_row(f"  {node_id} lifecycle", lifecycle.describe())
    return t


def _demo(args: argparse.Namespace) -> int:
    from harness.ops.demo import cmd_demo  # here: start-up time, `harness up` needs none of the report modules

    return cmd_demo(args)
