"""`harness upstream-results`: run the upstream scenarios against real binaries and write docs/upstream-results.md
from that one run (harness/report/upstream.py).

Imports inside functions are on purpose here: each `harness` command loads only its own module (harness/cli.py), so
a command pays at start-up only for what it runs."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("upstream-results", help="run the upstream scenarios on real binaries and write the results page")
    p.add_argument("--bin", action="append", default=[], metavar="DIR", help="a directory of real binaries (repeat)")
    p.add_argument("--results", default=None, help="render the page again from an earlier run's folder (no run)")
    p.add_argument("--series", default=None, help="a verdict series' JSON lines (benchmarks/verdict_series.py --out)")
    p.add_argument("--out", default="docs/upstream-results.md", help="the page (its pictures go to upstream-results/)")
    p.add_argument("--pytest-arg", action="append", default=[], help="an extra pytest argument (repeat)")
    p.set_defaults(func=cmd_upstream_results)


def cmd_upstream_results(args: argparse.Namespace) -> int:
    from harness.errors import ConfigError
    from harness.report.upstream import collect_revision, render, run_revision, without_paths

    bins = [Path(b).expanduser().resolve() for b in args.bin]
    missing = [str(b) for b in bins if not b.is_dir()]
    if missing:
        raise ConfigError(f"--bin: {', '.join(missing)}: not a directory (want one holding inferenced and decentralized-api)")
    if bool(bins) == bool(args.results):
        raise ConfigError("give --bin DIR (one or more: run the scenarios) or --results FOLDER (render an earlier run)")
    series = None
    if args.series:
        try:
            series = [json.loads(line) for line in Path(args.series).read_text().splitlines() if line.strip()]
        except (OSError, ValueError) as e:
            raise ConfigError(f"--series {args.series}: {e}; give the file verdict_series.py --out wrote") from None
    work = Path(args.results) if args.results else Path(tempfile.mkdtemp(prefix="upstream-results-"))
    load = [os.getloadavg()[0]]
    runs = []
    for i, b in enumerate(bins):
        runs.append(run_revision(b, work / f"run-{i}", extra=args.pytest_arg))
        load.append(os.getloadavg()[0])
    if args.results:
        runs = [collect_revision(d) for d in sorted(work.glob("run-*"))]
        load = [float(x) for x in (work / "load.txt").read_text().split()] if (work / "load.txt").exists() else load
    else:
        (work / "load.txt").write_text(" ".join(f"{x:.2f}" for x in load))
    out = Path(args.out)
    pictures = out.parent / "upstream-results"
    shutil.rmtree(pictures, ignore_errors=True)
    pictures.mkdir(parents=True)
    for r in runs:
        for files in r.files.values():
            for f in files:
                if f.suffix == ".txt":  # where the binaries lie on this machine is nobody's business on the page
                    (pictures / f.name).write_text(without_paths(f.read_text()))
                else:
                    shutil.copy(f, pictures / f.name)
    meta = {
        "command": "harness upstream-results " + " ".join(f"--bin {r.label.split('@')[0]}" for r in runs),
        "date": time.strftime("%Y-%m-%d"),
        "commit": ", ".join(sorted({r.commit for r in runs if r.commit})) or "unknown",
        "load": f"{min(load):.1f}-{max(load):.1f}",
        "cpus": str(os.cpu_count()),
    }
    out.write_text(render(runs, series=series, meta=meta))
    print(f"{out}: {len(runs)} revision(s), pictures in {pictures}; the run's files (and logs) in {work}")
    return 0
