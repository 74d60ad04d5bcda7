"""The HTML report of a testnet's audit with what only the running testnet knows: its blocks (the harness's block
timeline), the chaos faults each participant's proxy applied (its history), what is under test, and links into the
folder the report is written to (`logs/<component>.log`, `journals/<mock>.json`, each offender's journal entry).

    data = audit_page_data(hop.audit, testnet, title="hop v0.3.8 -> v0.3.9", journals=bodies, folder=True)
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.report.data import chaos_events, report_data
from harness.report.html import write_report


def new_out_dir(value: str | None, kind: str) -> Path:
    """A command's report folder (`--out DIR`, default `harness-runs/<kind>-<time>` in the current directory): new or
    empty, so that a folder of an earlier run is never mixed into; created, and kept."""
    import time


    out = Path(value) if value else Path("harness-runs") / f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}"
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"--out {out}: exists and is not an empty directory; name a new one (its files are kept)")
    out.mkdir(parents=True, exist_ok=True)
    return out.resolve()


def safe_name(name: str) -> str:
    """A file name for a mock id or test id (`mlnode-1/*` -> `mlnode-1_`)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[-120:]


def all_mlnodes(testnet) -> list:
    """Every participant's MLNodes (testnet.mlnodes are the first participant's only)."""
    parts = getattr(testnet, "participants", None) or []
    nodes = [n for p in parts for n in p.mlnodes]
    return nodes or list(testnet.mlnodes)


def offender_entries(report, bodies: Mapping[str, Any], limit: int = 500) -> dict[str, Any]:
    """{"<mock>/<request id>": journal entry} for the first `limit` offenders, from the raw journal bodies."""
    wanted = {(o.mock_id, o.request_id) for o in report.offenders[:limit] if o.logged_ms is not None}
    out: dict[str, Any] = {}
    for mock, body in bodies.items():
        for entry in body.get("requests", []) if isinstance(body, dict) else []:
            key = (mock, str(entry.get("id", "")))
            if key in wanted:
                out[f"{mock}/{key[1]}"] = entry
    return out


def testnet_chaos(testnet) -> list[dict[str, Any]]:
    """The faults each participant's chaos proxy applied (best effort: a proxy that is gone has none to give)."""
    out: list[dict[str, Any]] = []
    for p in getattr(testnet, "participants", None) or []:
        proxy = getattr(p, "chain_proxy", None)
        if proxy is None:
            continue
        try:
            out += chaos_events(p.id, proxy.history())
        except Exception:  # a proxy that stopped with its participant: its faults are not drawn
            continue
    return out


def audit_page_data(report, testnet, *, title: str, bodies: Mapping[str, Any] | None = None, folder: bool = True):
    """Report data for an audit of `testnet`; `folder`: links relative to a folder holding logs/ and journals/."""
    info = getattr(testnet, "info", None)
    tl = getattr(testnet, "timeline", None)
    blocks = [(b.height, b.block_time_ms) for b in tl.blocks()] if tl is not None else []
    logs = {name: f"logs/{name}.log" if folder else Path(path).as_uri() for name, path in testnet.logs().items()}
    journals = {mock: f"journals/{safe_name(mock)}.json" for mock in bodies or {}} if folder else {}
    return report_data(
        report,
        title=title,
        under_test=info.under_test() if info is not None else "",
        blocks=blocks,
        chaos=testnet_chaos(testnet),
        logs=logs,
        journals=journals,
        entries=offender_entries(report, bodies or {}),
    )


def write_report_files(data: dict[str, Any], folder: Path, stem: str = "report") -> Path:
    """`<folder>/<stem>.json` (what `harness report` renders again) and `<folder>/<stem>.html`; the HTML's path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stem}.json").write_text(json.dumps(data))
    return write_report(data, folder / f"{stem}.html")
