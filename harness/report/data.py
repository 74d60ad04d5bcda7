"""What an audit's HTML report shows, as plain JSON (`report.json` beside every `report.html`): `harness report` renders
a page again from it, without the testnet or the journals. Pure: no I/O.

    data = report_data(audit_report, title="hop v0.3.8 -> v0.3.9", blocks=[(17, ms), ...], chaos=[...],
                       logs={"apinode": "logs/apinode.log"}, journals={"mlnode-1": "journals/mlnode-1.json"})

Lanes: one per participant (its API node's chain connection: the holds of its delivery clock and the chaos faults on
that connection are drawn there) followed by one per MLNode of that participant (its requests); an audit without
participants has MLNode lanes only. `records` is columnar (one list per field, aligned), so 100k requests stay small.
Windows are each participant's clock per hop (harness/audit/basis.py): S..D (the switch due), D..U (requests in
flight), the holds of blocks B and B+1; where no clock was recorded, the chain clock: S + the contract's grace.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from harness.audit.results import VERDICTS, AuditReport

SCHEMA = "harness-report/1"
MAX_OFFENDERS = 5000  # listed in the page's table (the counts cover all of them)
CHAIN_LANE = "chain: blocks"


def _owners(report: AuditReport) -> dict[str, str]:
    """MLNode -> participant, from the network view and the clocks."""
    owner: dict[str, str] = {}
    if report.network is not None:
        for row in report.network.rows:
            for n in row.nodes:
                owner[n] = row.participant
    for t in report.timing:
        for n in t.nodes:
            owner.setdefault(n, t.participant)
    return owner


def lanes_of(report: AuditReport) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """[{label, kind, participant, node}] top to bottom, and MLNode -> lane index."""
    owner = _owners(report)
    participants: list[str] = []
    for p in [*(r.participant for r in (report.network.rows if report.network else ())), *(t.participant for t in report.timing)]:
        if p not in participants:
            participants.append(p)
    nodes: list[str] = list(dict.fromkeys([*owner, *(r.node_key for r in report.records)]))
    lanes: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    for p in participants:
        lanes.append({"label": f"{p} · API node's chain connection", "kind": "participant", "participant": p, "node": None})
        for n in nodes:
            if owner.get(n) == p:
                index[n] = len(lanes)
                lanes.append({"label": f"{p} · MLNode {n}", "kind": "mlnode", "participant": p, "node": n})
    for n in nodes:
        if n not in index:
            index[n] = len(lanes)
            lanes.append({"label": f"MLNode {n}", "kind": "mlnode", "participant": None, "node": n})
    return lanes, index


def _records(report: AuditReport, lane_of: Mapping[str, int]) -> dict[str, list]:
    verdict_index = {v: i for i, v in enumerate(VERDICTS)}
    cols: dict[str, list] = {k: [] for k in ("t", "lane", "verdict", "version", "cls", "method", "path", "id", "mock")}
    for r, v in zip(report.records, report.verdicts, strict=True):
        cols["t"].append(r.logged_ms)
        cols["lane"].append(lane_of[r.node_key])
        cols["verdict"].append(verdict_index[v])
        cols["version"].append(r.version_seen or "")
        cols["cls"].append(0 if r.port_class == "management" else 1)
        cols["method"].append(r.method)
        cols["path"].append(r.path)
        cols["id"].append(r.request_id)
        cols["mock"].append(r.mock_id)
    cols["stops"] = sorted(report.expected_stop_indexes)
    return cols


def _windows(report: AuditReport) -> list[dict[str, Any]]:
    """Each participant's clock per hop; the timeline's own (chain clock) when the audit recorded none."""
    out: list[dict[str, Any]] = []
    for t in report.timing:
        holds = []
        for h in t.holds:
            end = t.delivered(h.height)
            start = end - h.held_ms if end is not None and h.held_ms is not None else None
            holds.append({"height": h.height, "held_ms": h.held_ms, "outcome": h.outcome, "reason": h.reason,
                          "start_ms": start, "end_ms": end})  # fmt: skip
        out.append({"participant": t.participant, "hop": t.hop, "version": t.version, "upgrade_height": t.upgrade_height,
                    "switch_height": t.switch_height, "basis": t.basis, "from_ms": t.from_ms, "due_ms": t.due_ms,
                    "until_ms": t.until_ms, "holds": holds, "describe": t.describe()})  # fmt: skip
    if out:
        return out
    grace = report.contract.grace_ms
    for k, s in enumerate(report.timeline.switches[1:], start=1):
        b = None if s.height is None else report.contract.switch_block(s.height)
        out.append({"participant": None, "hop": k, "version": s.version, "upgrade_height": s.height, "switch_height": b,
                    "basis": "chain", "from_ms": s.from_ms, "due_ms": s.due(grace), "until_ms": s.until(grace), "holds": [],
                    "describe": f"{s.version} (block {b}): chain clock, switch due {s.due(grace) - s.from_ms} ms after "
                                f"block {b}'s header time"})  # fmt: skip
    return out


def report_data(
    report: AuditReport,
    *,
    title: str,
    under_test: str = "",
    blocks: Iterable[tuple[int, int]] = (),
    chaos: Iterable[Mapping[str, Any]] = (),
    logs: Mapping[str, str] | None = None,
    journals: Mapping[str, str] | None = None,
    entries: Mapping[str, Any] | None = None,
    max_offenders: int = MAX_OFFENDERS,
) -> dict[str, Any]:
    """The page's data. `blocks` (height, block time ms); `chaos` faulted requests ({participant, ms, end_ms, fault,
    methods, outcome}); `logs` component -> href; `journals` mock -> href of its saved journal; `entries`
    "<mock>/<request id>" -> the raw journal entry (shown in the page for each offender)."""
    lanes, lane_of = lanes_of(report)
    owner = _owners(report)
    offenders = []
    for o in report.offenders[:max_offenders]:
        d = o.to_dict()
        d["participant"] = owner.get(o.node or "") or owner.get(o.mock_id or "")
        offenders.append(d)
    net = report.network
    return {
        "schema": SCHEMA,
        "title": title,
        "under_test": under_test,
        "verdict": report.verdict,
        "contract": report.contract.name,
        "grace_ms": report.contract.grace_ms,
        "total": len(report.records),
        "counts": dict(report.counts),
        "per_hop": {k: dict(v) for k, v in report.per_hop.items()},
        "per_class": {k: dict(v) for k, v in report.per_class.items()},
        "offenders_total": len(report.offenders),
        "offenders": offenders,
        "verdicts": list(VERDICTS),
        "lanes": lanes,
        "records": _records(report, lane_of),
        "switches": [{"version": s.version, "height": s.height, "from_ms": s.from_ms} for s in report.timeline.switches],
        "switch_offset": report.contract.switch_offset,
        "windows": _windows(report),
        "blocks": [[int(h), int(ms)] for h, ms in blocks],
        "chaos": [dict(c) for c in chaos],
        "network": None if net is None else {"headline": net.headline(), "hops": [h.describe() for h in net.hops]},
        "links": {"logs": dict(logs or {}), "journals": dict(journals or {})},
        "entries": dict(entries or {}),
    }


def chaos_events(participant: str, records: Iterable[Any]) -> list[dict[str, Any]]:
    """The faulted requests of one participant's chaos proxy history (harness.chaos.history.ProxiedRequest)."""
    return [
        {
            "participant": participant,
            "ms": int(r.start_ms),
            "end_ms": None if r.end_ms is None else int(r.end_ms),
            "fault": r.fault,
            "methods": list(r.methods),
            "outcome": str(r.outcome),
            "conn": r.conn_id,
        }
        for r in records
        if r.fault
    ]
