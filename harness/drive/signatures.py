"""Exact signatures of known upstream behaviours, checked against an audit, so that a known bug is reported as
itself and any other failure fails the test.

A signature check returns the list of ways the audit departs from the signature (empty: it matches):

    problems = unversioned_everywhere(report)      # upstream main: no MLNode URL carries a version
    assert not problems, problems

Used by the upstream scenarios: for a revision the project has run and documented (docs/upstream-results.md), the
scenario asserts the documented signature and then marks the test xfail quoting it; for any other build it asserts
the contract (`assert_hop_clean`).
"""

from __future__ import annotations

from collections.abc import Iterable

from harness.audit.results import AuditReport


def unversioned_everywhere(report: AuditReport, *, nodes: Iterable[str]) -> list[str]:
    """Upstream main: every request is unversioned (none ok, stale, early or of an unknown version) and no node ever
    got a stop of an old version (`missing_stop` for every node after every switch)."""
    problems = []
    c = report.counts
    if not c.get("unversioned"):
        problems.append("no unversioned request at all")
    for verdict in ("ok", "late", "stale", "early", "unknown_version"):
        if c.get(verdict):
            problems.append(f"{c[verdict]} {verdict} request(s): some MLNode URL carried a version prefix")
    missing = {(s.hop, s.node) for s in report.stops if s.status == "missing"}
    due = {(s.hop, s.node) for s in report.stops if s.status != "not_due"}
    for hop, node in sorted(due - missing):
        problems.append(f"{node} got a stop of the old version after switch {hop}")
    if not {n for _, n in due} >= set(nodes):
        problems.append(f"stop rule did not cover every node: {sorted(due)}")
    return problems


def old_prefix_until_refresh(report: AuditReport, *, refresh_s: float, block_ms: int) -> list[str]:
    """PR #228: versioned URLs; after a switch, requests keep the old prefix until the worker clients are refreshed
    on the reconciler's tick (every `refresh_s`), and the switch is taken one block early (H-1). So every offender is
    `late` or `stale` (requests, or the old version's stop) with the previous version at most `refresh_s` + one
    block after its switch, or `early` with the new version at most one block before it; nothing is unversioned or
    of an unknown version, and no stop is missing."""
    problems = []
    for verdict in ("unversioned", "unknown_version"):
        if report.counts.get(verdict):
            problems.append(f"{report.counts[verdict]} {verdict} request(s)")
    switches = report.timeline.switches
    limit_ms = int(refresh_s * 1000) + block_ms
    for o in report.offenders:
        if o.verdict == "missing_stop":
            problems.append(f"missing stop: {o}")
            continue
        if o.verdict in ("late", "stale"):
            hop = next((i for i in range(1, len(switches)) if switches[i - 1].version == o.seen_version), None)
            late = None if hop is None or o.logged_ms is None else o.logged_ms - switch_start(report, hop, o.node)
            if late is None or late > limit_ms:
                problems.append(f"{o.verdict} beyond the {refresh_s:.0f} s refresh tick + one block ({late} ms): {o}")
        elif o.verdict == "early":
            hop = next((i for i in range(1, len(switches)) if switches[i].version == o.seen_version), None)
            if hop is None or o.logged_ms is None or o.logged_ms < one_block_before(report, hop, o.node, block_ms):
                problems.append(f"early by more than one block: {o}")
        else:
            problems.append(f"unexpected offender: {o}")
    return problems


def _timing(report: AuditReport, hop: int, node: str | None):
    return next((t for t in report.timing if t.hop == hop and node in t.nodes), None)


def switch_start(report: AuditReport, hop: int, node: str | None) -> int:
    """S of a hop for a node: on its participant's own clock where the audit has one, else the chain's."""
    t = _timing(report, hop, node)
    return t.from_ms if t is not None else report.timeline.switches[hop].from_ms


def one_block_before(report: AuditReport, hop: int, node: str | None, block_ms: int) -> int:
    """The earliest a node switching one block early can show the new version: when block B-1 reached its API node
    (delivery clock), else one block before S."""
    t = _timing(report, hop, node)
    before = t.delivered(t.switch_height - 1) if t is not None and t.switch_height is not None else None
    return before if before is not None else switch_start(report, hop, node) - block_ms


def describe(report: AuditReport) -> str:
    """One line for an xfail reason: counts, stops, old-prefix tails, first offender."""
    stops = ", ".join(f"{s.node} after {s.old_version}: {s.status}" for s in report.stops) or "none due"
    return (
        f"audit {report.verdict}: counts {report.counts}; stops: {stops}; old-prefix tail (ms) "
        f"{report.measured_old_prefix_tail_ms}; first offender: {report.first_offender}"
    )


# -- user-visible failures a documented revision is known for ------------------------------------------------------
def chain_error_passed_on(failure, chain_url: str) -> bool:
    """A chat the API node answered 500 naming its own chain URL: one of its chain queries failed (e.g. an EOF the
    chaos proxy injected) and the node passed the error to the user instead of retrying."""
    return failure.result.status == 500 and chain_url in failure.result.body


def refresh_outages(records, switches, *, slack_ms: int) -> list[tuple[str, int, int]]:
    """For each switch and node: from the old version's first stop after the switch to the new version's first
    `inference/up` after that stop (+ slack): the span in which a node that stops the old version before bringing
    the new one up has no serving version. [(name, start_ms, end_ms)]"""
    out = []
    for k in range(1, len(switches)):
        old, new, at = switches[k - 1].version, switches[k].version, switches[k].from_ms
        by_node: dict[str, list] = {}
        for r in records:
            by_node.setdefault(r.node_key, []).append(r)
        for node, recs in by_node.items():
            recs.sort(key=lambda r: r.logged_ms)
            stop = next((r for r in recs if r.version_seen == old and r.endpoint == "/api/v1/stop" and r.logged_ms >= at), None)
            if stop is None:
                continue
            ups = (r for r in recs if r.version_seen == new and r.endpoint == "/api/v1/inference/up")
            up = next((r for r in ups if r.logged_ms >= stop.logged_ms), None)
            end = (up.logged_ms if up is not None else stop.logged_ms) + slack_ms
            out.append((f"{node}: {old} stopped before {new} was up", stop.logged_ms, end))
    return out


def in_outage(failure, outages: list[tuple[str, int, int]], *, text: str) -> bool:
    return text in failure.result.body and any(lo <= failure.started_ms <= hi for _, lo, hi in outages)
