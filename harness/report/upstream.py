"""docs/upstream-results.md, written from one run by one command: what each real API node build did in each upstream
scenario, with the audits (text and timeline picture) of that same run.

    harness upstream-results --bin DIR [--bin DIR ...] [--series FILE] [--out docs/upstream-results.md]

For every binaries directory it runs the upstream scenarios (`pytest -m upstream`, the real stack) with
HARNESS_RESULTS_DIR set, reads each test's outcome from the run's JUnit XML and each scenario's audit from the files
the scenarios published (`publish()` below), and writes the page: when, on which machine load, with which harness
commit, which API node was under test, one table of outcomes, then per revision and scenario the audit's summary
line, its text and its picture (copied next to the page, in `upstream-results/`). `--series FILE` adds the table of a
verdict series (benchmarks/verdict_series.py). Prose that interprets the results lives in docs/upstream-analysis.md,
never here: nothing on this page is older than the run that wrote it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.audit import render_png
from harness.backends.gonka.binaries import GonkaBinaries

SCENARIO_FILES = ("scenarios/test_upstream.py", "scenarios/test_upstream_network.py")


def publish(tn: Any, report: Any, scenario: str) -> None:
    """With HARNESS_RESULTS_DIR set: <revision>-<scenario>.txt/.json/.png (the audit) and a copy of every component's
    log (what the real node itself said) in <revision>-<scenario>-logs/."""
    out = os.environ.get("HARNESS_RESULTS_DIR")
    if not out:
        return

    base = Path(out) / f"{tn.info.upstream_revision or 'build'}-{scenario}"
    base.parent.mkdir(parents=True, exist_ok=True)
    logs = Path(f"{base}-logs")
    logs.mkdir(exist_ok=True)
    for name, path in tn.logs().items():
        shutil.copy(path, logs / f"{name}.log")
    base.with_suffix(".txt").write_text(f"under test: {tn.info.under_test()}\n{report.to_text(max_offenders=10)}")
    base.with_suffix(".json").write_text(report.to_json())
    render_png(report, report.timeline, base.with_suffix(".png"), title=f"{tn.info.api_under_test.split(' (')[0]}: {scenario}")


@dataclass
class Outcome:
    test: str  # the test function's name
    status: str  # passed | xfailed | failed | error | skipped
    message: str = ""  # the xfail reason, the failure's first line, the skip reason


@dataclass
class RevisionRun:
    label: str  # the revision as the binaries name it (main@312044d2)
    under_test: str
    seconds: float
    outcomes: list[Outcome] = field(default_factory=list)
    audits: dict[str, dict] = field(default_factory=dict)  # scenario -> the audit's JSON
    files: dict[str, list[Path]] = field(default_factory=dict)  # scenario -> its .txt and .png
    commit: str = ""  # the harness commit the run used


def junit_outcomes(path: Path) -> list[Outcome]:
    """Each test case of a pytest JUnit XML file, with its status and message."""
    out = []
    for case in ET.parse(path).getroot().iter("testcase"):
        name, status, message = case.get("name", "?"), "passed", ""
        for child in case:
            tag = child.tag
            text = (child.get("message") or child.text or "").strip()
            if tag == "skipped" and child.get("type") == "pytest.xfail":
                status, message = "xfailed", text
            elif tag in ("failure", "error", "skipped"):
                status, message = {"failure": "failed"}.get(tag, tag), text
        out.append(Outcome(name, status, message.splitlines()[0][:400] if message else ""))
    return out


def run_revision(bins: Path, results: Path, *, extra: list[str]) -> RevisionRun:
    """The upstream scenarios against one binaries directory; what they published lands in `results`."""
    results.mkdir(parents=True, exist_ok=True)
    junit = results / "junit.xml"
    argv = [sys.executable, "-m", "pytest", *SCENARIO_FILES, "-m", "upstream", f"--gonka-bin={bins}", "-p", "no:cacheprovider",
            f"--junitxml={junit}", "-q", *extra]  # fmt: skip
    t0 = time.monotonic()
    subprocess.run(argv, env={**os.environ, "HARNESS_RESULTS_DIR": str(results)}, check=False)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    about = {"label": _label(bins), "seconds": time.monotonic() - t0, "commit": commit}
    (results / "run.json").write_text(json.dumps(about))
    return collect_revision(results)


def collect_revision(results: Path) -> RevisionRun:
    """What one revision's run left in `results` (run.json, junit.xml, the published audits): the page is rendered
    from this, so an earlier run's folder renders again without running anything."""
    about = json.loads((results / "run.json").read_text())
    run = RevisionRun(about["label"], "", float(about["seconds"]), junit_outcomes(results / "junit.xml"))
    run.commit = str(about.get("commit", ""))
    for txt in sorted(results.glob("*.txt")):
        scenario = txt.stem.split("-", 1)[1] if "-" in txt.stem else txt.stem
        run.under_test = run.under_test or without_paths(txt.read_text().splitlines()[0].removeprefix("under test: "))
        run.files[scenario] = [p for p in (txt, txt.with_suffix(".png")) if p.exists()]
        with contextlib.suppress(OSError, ValueError):
            run.audits[scenario] = json.loads(txt.with_suffix(".json").read_text())
    return run


def without_paths(text: str) -> str:
    """A binary's description without where it lies on this machine: "(sha256 abc, /x/y/inferenced)" -> "(sha256 abc)"."""
    return re.sub(r", /[^),]*\)", ")", text)


def _label(bins: Path) -> str:

    return GonkaBinaries.locate(bins).revision


def summary(audit: dict) -> str:
    """One line of an audit: verdict, counts, clocks, first offender, old-prefix tail, stops."""
    counts = ", ".join(f"{n} {k}" for k, n in audit["counts"].items() if n)
    clocks = audit.get("clock")
    clock = "chain clock" if clocks == "chain" else f"{sorted({c['basis'] for c in clocks})[0]} clock" if clocks else ""
    first = audit.get("first_offender")
    first_text = f"; first offender {first['verdict']} `{first['method']} {first['url']}`" if first else ""
    tails = [v for v in audit.get("measured_old_prefix_tail_ms", {}).values() if v is not None]
    tail = f"; old-prefix tail {max(tails) / 1000:.1f} s" if tails else ""
    stops = sorted({s["status"] for s in audit.get("stops", [])})
    return f"{audit['verdict'].upper()}: {counts or 'no requests'} ({clock}){first_text}{tail}; stops {', '.join(stops) or '-'}"


def render(runs: list[RevisionRun], *, series: list[dict] | None, meta: dict[str, str]) -> str:
    lines = [
        "# What the real Gonka API node does across an MLNode partial upgrade",
        "",
        f"Written by `{meta['command']}` on {meta['date']} from one run (harness commit `{meta['commit']}`, load average "
        f"{meta['load']} on {meta['cpus']} cores). Every figure and picture below is from that run; what they mean is "
        "discussed in [upstream-analysis.md](upstream-analysis.md).",
        "",
        "| revision | API node under test | time |",
        "|---|---|---|",
        *[f"| `{r.label}` | {r.under_test} | {r.seconds / 60:.1f} min |" for r in runs],
        "",
        "## Outcome",
        "",
        "| test | " + " | ".join(f"`{r.label}`" for r in runs) + " |",
        "|---|" + "---|" * len(runs),
    ]
    tests = list(dict.fromkeys(o.test for r in runs for o in r.outcomes))
    for t in tests:
        cells = []
        for r in runs:
            o = next((x for x in r.outcomes if x.test == t), None)
            cells.append("-" if o is None else o.status + (f": {_cell(_reason(o.message))}" if o.message else ""))
        lines.append(f"| {t} | " + " | ".join(cells) + " |")
    for r in runs:
        lines += ["", f"## `{r.label}`", ""]
        for scenario, audit in r.audits.items():
            lines += [f"**{scenario}**: {summary(audit)}", ""]
            for f in r.files.get(scenario, []):
                link = f"upstream-results/{f.name}"
                lines.append(f"![{r.label} {scenario}]({link})" if f.suffix == ".png" else f"[audit text]({link})")
            lines.append("")
    if series:
        lines += ["", "## Verdict series under CPU load", "", *series_table(series)]
    return "\n".join(lines).rstrip() + "\n"


def _reason(message: str) -> str:
    """An xfail's reason up to the audit's summary (the summary is below, per scenario)."""
    return message.split("; audit ")[0]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")[:300]


def series_table(rows: list[dict]) -> list[str]:
    """One row per configuration of a verdict series (benchmarks/verdict_series.py): hops, verdicts, reactions, load."""
    out = [
        "| API node under test | participants | hops (testnets) | pass / fail | verdict words | reaction: first new-version "
        "request, ms (min / median / max) | reaction: old-version stop, ms | block B+1 held, ms | load average |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for config in dict.fromkeys(r["config"] for r in rows):
        mine = [r for r in rows if r["config"] == config]
        parts = [p for r in mine for p in r["participants"].values()]
        held = [_held_after(p["held_ms"]) for p in parts]
        verdicts = [r["verdict"] for r in mine]
        words = sorted({w for r in mine for w in r["verdicts"]})
        name, _, n = config.rpartition(" x")
        out.append(
            f"| {name} | {n} | {len(mine)} ({len({r['testnet'] for r in mine})}) | {verdicts.count('pass')} / "
            f"{verdicts.count('fail')} | {', '.join(words) or '-'} | {_span([p['reaction_ms'] for p in parts])} | "
            f"{_span([p['stop_ms'] for p in parts])} | {_span(held)} | {_span([r['load1'] for r in mine])} |"
        )
    return out


def _held_after(held: dict[str, int | None]) -> int | None:
    """How long block B+1 (the higher of the two held heights) was held."""
    return held[max(held, key=int)] if held else None


def _span(xs: list) -> str:
    xs = [x for x in xs if x is not None]
    if not xs:
        return "-"
    return f"{min(xs):g} / {statistics.median(xs):g} / {max(xs):g}"
