"""Text and JSON renderings of an AuditReport. Deterministic: same report, same bytes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

from harness.audit.network import network_lines
from harness.audit.words import VERDICTS

if TYPE_CHECKING:
    from harness.audit.results import AuditReport, Offender


DEFAULT_MAX_OFFENDERS = 100  # `harness audit` lists this many offenders unless asked for all


def _utc(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _bracket(b: tuple[int | None, int | None]) -> str:
    lo, hi = b
    if lo is None and hi is None:
        return "-"
    return f"{'?' if lo is None else lo}..{'?' if hi is None else hi}"


def report_dict(report: AuditReport, *, max_offenders: int | None = None) -> dict[str, Any]:
    """`{"verdict", "counts", "offenders", ...}`; counts has exactly the request verdicts (VERDICTS). With
    max_offenders, `offenders` lists the first ones only (`offenders_total` and the counts still cover all of them)."""
    c = report.contract
    listed = report.offenders if max_offenders is None else report.offenders[:max_offenders]
    return {
        "verdict": report.verdict,
        "counts": dict(report.counts),
        "offenders_total": len(report.offenders),
        "offenders_truncated": len(listed) < len(report.offenders),
        "offenders": [o.to_dict() for o in listed],
        "first_offender": report.first_offender.to_dict() if report.first_offender else None,
        "total_requests": len(report.records),
        "per_hop": {k: dict(v) for k, v in report.per_hop.items()},
        "per_class": {k: dict(v) for k, v in report.per_class.items()},
        "stops": [s.to_dict() for s in report.stops],
        "missing_stops": sum(1 for s in report.stops if s.status == "missing"),
        "measured_old_prefix_tail_ms": dict(report.measured_old_prefix_tail_ms),
        "timeline": report.timeline.to_json(),
        "contract": c.as_dict(),
        "switches_seen": [s.to_dict() for s in report.switches_seen],
        "clock": [t.to_dict() for t in report.timing] or "chain",
        "lifecycle": [o.to_dict() for o in report.lifecycle],
        "network": report.network.to_dict() if report.network is not None else None,
        "end_ms": report.end_ms,
    }


def report_json(report: AuditReport, *, indent: int | None = 2, max_offenders: int | None = None) -> str:
    return json.dumps(report_dict(report, max_offenders=max_offenders), indent=indent, sort_keys=False)


_PLACEHOLDER = "\x00offenders\x00"


def write_report_json(report: AuditReport, out: TextIO, *, max_offenders: int | None = DEFAULT_MAX_OFFENDERS) -> None:
    """The JSON report written to a stream. Every offender (max_offenders None) is written in slices, one compact
    object per line, so a million offenders cost seconds, not minutes and gigabytes."""
    if max_offenders is not None or len(report.offenders) <= DEFAULT_MAX_OFFENDERS:
        out.write(report_json(report, max_offenders=max_offenders) + "\n")
        return
    doc = report_dict(report, max_offenders=0)
    doc["offenders"], doc["offenders_truncated"] = _PLACEHOLDER, False
    head, tail = json.dumps(doc, indent=2).split(json.dumps(_PLACEHOLDER), 1)
    out.write(head + "[\n")
    offenders = report.offenders
    for start in range(0, len(offenders), _SLICE):
        rows = json.dumps([o.to_dict() for o in offenders[start : start + _SLICE]], separators=(",", ":"))
        out.write(("," if start else "") + rows[1:-1].replace("},{", "},\n{") + "\n")
    out.write("]" + tail + "\n")


_SLICE = 10_000


def _table(rows: list[list[str]], header: list[str]) -> list[str]:
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) if rows else len(header[i]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    out.extend(fmt.format(*r) for r in rows)
    return [line.rstrip() for line in out]


def _offender_lines(o: Offender) -> list[str]:
    return [
        f"  verdict:   {o.verdict}{f' ({o.reason})' if o.reason else ''}",
        f"  request:   {o.method} {o.url}",
        f"  mock:      {o.mock_id or '-'}   node: {o.node or '-'}   port: {o.port_class or '-'}"
        + (f"   served by: {o.served_by_version}" if o.served_by_version else ""),
        f"  time:      {o.logged_ms if o.logged_ms is not None else '-'} ms ({_utc(o.logged_ms)})"
        f"   heights: {_bracket(o.height_bracket)}",
        f"  expected:  {o.expected_version or '-'}   seen: {o.seen_version or '(none)'}"
        + (f"   journal id: {o.request_id}" if o.request_id else ""),
    ]


def _clock_lines(report: AuditReport) -> list[str]:
    """Which clock judged each participant's hops (harness/audit/basis.py)."""
    if not report.timing:
        return [f"clock: chain (block header times + grace {report.contract.grace_ms} ms; no proxy timed the deliveries)"]
    return ["clock (S, D, U per participant and hop):"] + [
        f"  {t.describe()}; S {t.from_ms}, D S{t.due_ms - t.from_ms:+d} ms, U S{t.until_ms - t.from_ms:+d} ms"
        for t in report.timing
    ]


def report_text(report: AuditReport, *, max_offenders: int = 20) -> str:
    """A readable report: verdict, the first offender in full, counts per hop and class, stops, offender table."""
    lines = _header_lines(report)
    first = report.first_offender
    if first is not None:
        lines += ["", "first offender:", *_offender_lines(first)]
    lines += ["", "counts:", *_count_lines(report)]
    if report.network is not None:

        lines += ["", *network_lines(report.network, _table)]
    if report.switches_seen:
        lines += ["", "switch seen per node (first request on the new version):"]
        lines += [f"  {report.timeline.versions[s.hop - 1]} -> {s.describe()}" for s in report.switches_seen]
    if report.lifecycle:
        lines += ["", "switch order per node (old version stopped, new version up; the gap with no serving version):"]
        lines += [f"  {o.describe()}" for o in report.lifecycle]
    if report.stops:
        lines += ["", "stop rule (one POST /<old>/api/v1/stop per node after each switch S, before it was due D):"]
        lines += _stop_lines(report)
    tails = report.measured_old_prefix_tail_ms
    if tails:
        lines += [
            "",
            "old-prefix tail after each switch (ms, stop excluded): "
            + ", ".join(f"{k}: {'-' if v is None else v}" for k, v in tails.items()),
        ]
    if report.offenders:
        lines += ["", *_offender_table_lines(report, max_offenders)]
    return "\n".join(lines) + "\n"


def _header_lines(report: AuditReport) -> list[str]:
    """The verdict with its counts, the timeline, the contract and the clocks that judged."""
    c = report.contract
    return [
        f"prefix audit: {report.verdict.upper()}   {len(report.records)} requests, {len(report.offenders)} offenders",
        "timeline: "
        + " -> ".join(
            f"{s.version} from {s.from_ms}" + (f" (h{s.height})" if s.height is not None else "")
            for s in report.timeline.switches
        ),
        f"contract: {c.name} switch_offset={c.switch_offset} stop_old={c.stop_old} early_tolerance_ms={c.early_tolerance_ms} "
        f"(delivery clock: inflight_ms={c.inflight_ms} refresh_grace_ms={c.refresh_grace_ms}; chain clock: "
        f"grace_ms={c.grace_ms})",
        *_clock_lines(report),
    ]


def _count_lines(report: AuditReport) -> list[str]:
    """The verdict counts table: all requests, then per hop, then per port class."""
    keys = list(VERDICTS)
    rows = [["all", *(str(report.counts[k]) for k in keys)]]
    rows += [[f"hop {v}", *(str(cnt[k]) for k in keys)] for v, cnt in report.per_hop.items()]
    rows += [[cls, *(str(cnt[k]) for k in keys)] for cls, cnt in report.per_class.items()]
    return ["  " + s for s in _table(rows, ["scope", *keys])]


def _stop_lines(report: AuditReport) -> list[str]:
    """The stop rule table: per old version and node, its status, stop time and repeats."""
    srows = [
        [f"{s.old_version}", s.node, s.status, str(s.stop_ms) if s.stop_ms is not None else "-", str(s.repeated)]
        for s in report.stops
    ]
    return ["  " + s for s in _table(srows, ["old", "node", "status", "stop_ms", "repeated"])]


def _offender_table_lines(report: AuditReport, max_offenders: int) -> list[str]:
    """The offenders heading and table, the first `max_offenders` of them."""
    shown = report.offenders[:max_offenders]
    heading = f"offenders ({len(report.offenders)}{', first ' + str(len(shown)) if len(shown) < len(report.offenders) else ''}):"
    orows = [
        [
            o.verdict + (f"/{o.reason}" if o.reason in ("repeated_stop", "late_stop") else ""),
            str(o.logged_ms) if o.logged_ms is not None else "-",
            o.method,
            o.url,
            o.mock_id or "-",
            o.node or "-",
            o.expected_version or "-",
            o.seen_version or "-",
            _bracket(o.height_bracket),
        ]
        for o in shown
    ]
    headers = ["verdict", "logged_ms", "method", "url", "mock", "node", "expected", "seen", "heights"]
    return [heading, *("  " + s for s in _table(orows, headers))]
