"""A failed test leaves one folder with everything needed to understand it:

<bundle_dir>/<test id>-<time>/
    under-test.txt      which API node and chain were under test (model profile, or real binary, revision, sha256)
    options.json        the run options and endpoints
    logs/               every component's log
    journals/           each WireMock's raw GET /__admin/requests body
    blocks.json         the block timeline (height, block time, time received)
    switches.json       the switch timeline on the chain clock (block header times)
    switches-<participant>.json   that participant's own clock (S, D, U per switch: `harness audit --switches` takes it)
    clock.json          which clock judged each participant and hop, why, its deliveries and holds
    audit.txt audit.json audit.png   the audit report of the last hop
    report.html         the same audit as a page to read in a browser (verdict, zoomable timeline, offenders)
    report.json         what report.html shows (`harness report DIR` renders it again)
    hops.json           one line per hop

`harness demo --out DIR` writes the same files into DIR (write_evidence).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.audit import render_png
from harness.mlnode.collect import collect_journals
from harness.report.evidence import all_mlnodes, audit_page_data, safe_name, write_report_files

_safe = safe_name


def write_bundle(bundle_dir: Path, nodeid: str, testnet, opts, *, runner=None, failure: str = "") -> Path:
    out = Path(bundle_dir).resolve() / f"{_safe(nodeid)}-{time.strftime('%Y%m%d-%H%M%S')}"
    return write_evidence(out, nodeid, testnet, opts, runner=runner, failure=failure)


def write_evidence(out: Path, name: str, testnet, opts, *, runner=None, failure: str = "") -> Path:
    """Everything listed in the module docstring, into the folder `out` (created); `name` titles the report."""
    out.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    bodies: dict = {}
    info = getattr(testnet, "info", None)
    under_test = info.under_test() if info is not None else "unknown"
    (out / "under-test.txt").write_text(under_test + "\n")
    if failure:
        (out / "failure.txt").write_text(f"under test: {under_test}\n\n{failure}")
    steps: tuple[tuple[str, Callable[[], None]], ...] = (
        ("options", lambda: _write_options(out, name, under_test, testnet, opts)),
        ("logs", lambda: _write_logs(out, testnet)),
        ("journals", lambda: _write_journals(out, testnet, bodies)),
        ("blocks", lambda: _write_blocks(out, testnet)),
        ("audit", lambda: _write_audit(out, runner, under_test)),
        # asks each participant's proxy for its deliveries: after what needs no running testnet
        ("clocks", lambda: _write_clocks(out, runner)),
        # after the journals: the offenders' entries are shown in the page
        ("report", lambda: _write_report(out, name, testnet, runner, bodies)),
        ("api state", lambda: _write_api_state(out, testnet)),
    )
    for what, fn in steps:
        try:
            fn()
        except Exception as e:  # a bundle is best effort: record what could not be saved
            errors.append(f"{what}: {type(e).__name__}: {e}")
    if errors:
        (out / "bundle-errors.txt").write_text("\n".join(errors))
    return out


def _write_options(out: Path, nodeid: str, under_test: str, testnet: Any, opts: Any) -> None:
    """options.json: the test, what was under test, the run options and the testnet's endpoints."""
    data = {
        "test": nodeid,
        "under_test": under_test,
        "options": _jsonable(opts),
        "endpoints": _jsonable(getattr(testnet, "endpoints", None)),
    }
    (out / "options.json").write_text(json.dumps(data, indent=2, default=str))


def _write_logs(out: Path, testnet: Any) -> None:
    """logs/: a copy of every component's log file that exists."""
    (out / "logs").mkdir(exist_ok=True)
    for name, path in testnet.logs().items():
        if Path(path).is_file():
            shutil.copy(path, out / "logs" / f"{name}.log")


def _write_journals(out: Path, testnet: Any, bodies: dict) -> None:
    """journals/: each WireMock's raw request journal, also kept in `bodies` (mock id -> body) for the report."""

    (out / "journals").mkdir(exist_ok=True)
    bodies.update(collect_journals(all_mlnodes(testnet)))
    for mock_id, body in bodies.items():
        (out / "journals" / f"{_safe(mock_id)}.json").write_text(json.dumps(body))


def _write_blocks(out: Path, testnet: Any) -> None:
    """blocks.json: the block timeline, when the testnet has one."""
    tl = getattr(testnet, "timeline", None)
    if tl is not None:
        (out / "blocks.json").write_text(json.dumps([dataclasses.asdict(b) for b in tl.blocks()]))


def _write_audit(out: Path, runner: Any, under_test: str) -> None:
    """switches.json, audit.txt/json/png of the last hop, and hops.json (nothing without hops)."""
    if not _has_hops(runner):
        return

    last = runner.hops[-1]
    (out / "switches.json").write_text(json.dumps([_jsonable(s) for s in runner.switches], indent=1))
    (out / "audit.txt").write_text(f"under test: {under_test}\n{last.audit.to_text()}")
    (out / "audit.json").write_text(last.audit.to_json())
    render_png(last.audit, runner.switches, out / "audit.png")
    (out / "hops.json").write_text(json.dumps([h.summary() for h in runner.hops], indent=1))


def _write_clocks(out: Path, runner: Any) -> None:
    """clock.json (which clock judged each participant and hop) and each participant's switches-<participant>.json."""
    if not _has_hops(runner):
        return
    (out / "clock.json").write_text(json.dumps([t.to_dict() for t in runner.hops[-1].audit.timing], indent=1))
    for clock in runner.clocks():
        (out / f"switches-{_safe(clock.participant)}.json").write_text(json.dumps(clock.timeline.to_json(), indent=1))


def _write_report(out: Path, nodeid: str, testnet: Any, runner: Any, bodies: dict) -> None:
    """report.html and report.json: the last hop's audit as a page, titled with the test and its version path."""
    if not _has_hops(runner):
        return

    last = runner.hops[-1]
    title = f"{nodeid}: {' -> '.join([runner.hops[0].from_version, *(h.to_version for h in runner.hops)])}"
    write_report_files(audit_page_data(last.audit, testnet, title=title, bodies=bodies), out)


def _write_api_state(out: Path, testnet: Any) -> None:
    """api-state.json: the real API node's own persisted state (never used for the verdict), when it has one."""
    state = getattr(testnet, "api_state", None)
    if callable(state):
        (out / "api-state.json").write_text(json.dumps(state(), indent=1, default=str))


def _has_hops(runner: Any) -> bool:
    """Whether there is a runner that ran at least one hop (the audit, clocks and report need one)."""
    return runner is not None and bool(runner.hops)


def _jsonable(obj):
    if obj is None:
        return None
    if dataclasses.is_dataclass(obj):
        return {k: _jsonable(v) for k, v in dataclasses.asdict(obj).items()}
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj
