"""The `--live` half of `harness audit` (the file-based half is harness/ops/audit_cli.py).

Imports inside functions are on purpose here: each `harness` command loads only its own module (harness/cli.py), so
a command pays at start-up only for what it runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.errors import ConfigError
from harness.ops.context import add_global_options, resolve


def add_live_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--live", action="store_true", help="audit a running testnet (journals now, switches from the chain)")
    p.add_argument(
        "--since",
        type=int,
        default=None,
        metavar="HEIGHT",
        help="--live: start the timeline at this height and ignore requests logged before its block",
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        default=None,
        help="--live: where audit.png, report.html, report.json and audit.json go (kept); default harness-runs/audit-live-<time>",
    )
    add_global_options(p)


def run_live_cli(args: argparse.Namespace) -> int:
    from harness.ops.cli import guarded

    return guarded(_run)(args)


def _run(args: argparse.Namespace) -> int:
    from harness.ops.cli import emit
    from harness.ops.live_audit import live_report_data, run_live
    from harness.report.evidence import new_out_dir, write_report_files

    if args.journal or args.switches or args.heights:
        raise ConfigError("--live reads the running mocks and the chain; drop --journal/--switches/--heights")
    ctx = resolve(args)
    out = new_out_dir(args.out, "audit-live")
    png = Path(args.png) if args.png else out / "audit.png"
    res = run_live(ctx, since=args.since, png=png)
    report = res["report"]
    (out / "audit.json").write_text(report.to_json())
    html = write_report_files(live_report_data(ctx, res), out)
    if args.html:
        import shutil

        Path(args.html).parent.mkdir(parents=True, exist_ok=True)
        html = Path(shutil.copyfile(html, args.html))
    as_json = args.json or args.format == "json"
    under_test = ctx.under_test()
    doc = {
        "ok": report.passed,
        "under_test": under_test,
        **report.to_dict(),
        "png": res["png"],
        "html": str(html.resolve()),
        "out": str(out),
        "since": res["since"],
        "latest_height": res["latest"],
        "profile": res["profile"],
        "chain_queries": res["queries"],
        "version_changes": [{"height": c.height, "version": c.version} for c in res["changes"]],
    }

    def human() -> str:
        changes = " -> ".join(f"{c.version}@{c.height}" for c in res["changes"])
        return (
            f"live audit of {ctx.source}: heights {res['since']}..{res['latest']}, profile {res['profile']}\n"
            f"under test: {under_test}\n"
            f"switches from the chain: {changes}\n\n{report.to_text()}\nreport folder (kept): {out}\n"
            f"PNG timeline: {res['png']}\nHTML report:  {html.resolve()}"
        )

    args.json = as_json
    emit(args, doc, human)
    return 0 if report.passed else 1
