"""`harness demo`: the README's main job. The upgrade path on a testnet it starts, with live progress, each hop's
verdict, then the audit and the folder it names (`--out DIR`, default `harness-runs/demo-<time>`, kept): the PNG
timeline, the HTML report, the components' logs, the journals and the audit as text and JSON (the files of a failure
bundle, harness/report/bundle.py). Its working directory (the processes' own files) is a temp dir it removes however
it ends, unless `--workdir DIR` names one to keep. Exit 0 only when every hop passes.

Imports inside functions are on purpose here: each `harness` command loads only its own module (harness/cli.py), so
a command pays at start-up only for what it runs."""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from harness.ops.launch import make_testnet, options_from_args
from harness.report.evidence import new_out_dir

if TYPE_CHECKING:
    from rich.console import Console

    from harness.backends.base import BaseTestnet
    from harness.options import RunOptions


def banner(console: Console, opts: RunOptions) -> None:
    """The run's header; wraps (never cuts) on a narrow terminal."""
    console.rule("harness demo")
    console.print(
        f"upgrade path {' -> '.join(opts.versions)}; API node profile {opts.api_profile}, topology {opts.topology}, "
        f"backend {opts.backend}"
    )


def cmd_demo(args: argparse.Namespace) -> int:
    from rich.console import Console

    console = Console()
    opts = options_from_args(args)
    out = new_out_dir(args.out, "demo")
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="harness-demo-"))
    t0 = time.monotonic()
    try:
        banner(console, opts)
        tn = make_testnet(opts, workdir, participants=args.participants)
        console.print(f"starting the chain, WireMock MLNodes, chaos proxy and the API node ({tn.info.api_under_test})...")
        tn.start()  # its long waits report themselves (harness/util/progress.py)
        with tn:
            verdict_ok = _run(console, tn, opts, out, args, t0)
    except BaseException:
        if out.is_dir() and not any(out.iterdir()):
            out.rmdir()  # refused or failed before anything was written: no empty folder left behind
        raise
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    console.rule("[green]VERDICT: PASS[/green]" if verdict_ok else "[red]VERDICT: FAIL[/red]")
    console.print(f"total {time.monotonic() - t0:.1f}s; the report folder is kept: {out}", soft_wrap=True)
    png = Path(args.png).resolve() if args.png else out / "audit.png"
    if args.png:
        png.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out / "audit.png", png)
    print(f"PNG timeline: {png}")
    print(f"HTML report:  {out / 'report.html'}")
    return 0 if verdict_ok else 1


def _run(console: Console, tn: BaseTestnet, opts: RunOptions, out: Path, args: argparse.Namespace, t0: float) -> bool:
    from harness.drive.assertions import hop_problems
    from harness.drive.hop import UpgradeRunner, chain_version
    from harness.report.bundle import write_evidence

    console.print(
        f"testnet up in {time.monotonic() - t0:.1f}s; chain height {tn.rpc.height()}, "
        f"MLNode version on chain: {chain_version(tn, default='not tracked by this chain')}"
    )

    def progress(msg: str) -> None:
        console.print(f"  [dim]h={tn.rpc.height():>4}[/dim] {msg}")

    runner = UpgradeRunner(tn, progress=progress, announce_hops=False)  # hop results printed below
    verdict_ok = True
    failure = ""
    try:
        for version in opts.versions[1:]:
            console.rule(f"hop {runner.current_version} -> {version}")
            hop = runner.hop(version)
            problems = hop_problems(hop, tn)  # the same judgement as the scenarios' assert_hop_clean
            verdict_ok &= not problems
            console.print(f"  {'[red]FAIL[/red]' if problems else '[green]PASS[/green]'} {hop.summary()}")
            console.print(f"  stops on {hop.from_version}: {hop.old_stops}; failed user chats: {len(hop.user_failures)}")
            for problem in problems:
                console.print(f"  [red]{problem.splitlines()[0]}[/red]")
                failure += problem + "\n"
            if hop.audit.network is not None:
                console.print(f"  {hop.audit.network.headline()}; {hop.audit.network.hops[-1].describe()}")
        console.rule("audit")
        console.print(runner.hops[-1].audit.to_text())
    except Exception as e:
        failure += f"{type(e).__name__}: {e}\n"
        raise
    finally:
        with console.status(f"writing the report to {out}..."):
            write_evidence(out, "harness demo", tn, opts, runner=runner, failure=failure)
    return verdict_ok
