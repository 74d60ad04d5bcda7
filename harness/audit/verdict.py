"""The audit engine: a verdict per request, counts, offenders and the stop rule. Pure; no I/O.

Verdict of one request seen with version V at time t (E = the version expected at t, see timeline.py):
- `unversioned`: no version prefix; `unknown_version`: a prefix that is not in the timeline;
- `ok`: V == E, or V is an older version still inside its grace window, or V is a later version inside its early
  tolerance, or V's request is the one expected `POST /<V>/api/v1/stop` of a node after V was replaced;
- `stale`: V is older than E and t >= (switch away from V) + grace_ms; also an old-version stop after the grace
  window when the node had already stopped that version (reason `repeated_stop`);
- `early`: V is later than E and t < (switch to V) - early_tolerance_ms.

Stop rule (contract.stop_old): for each hop k (old -> new at S_k) and each node, the stops considered are
`POST /<old>/api/v1/stop` with S_k <= t. The first (in time) is the expected stop and `ok`. Further stops inside
the grace window are old-prefix traffic the contract tolerates (a profile whose cached worker clients still
reconcile through the old prefix sends them; `ok`); a further stop at or after S_k + grace_ms is a `stale`
offender (reason `repeated_stop`). Callers that want exactly one stop count `report.stops[*].repeated` plus
the stops they see. A node without one is a `missing_stop` offender when the audited range reaches
S_k + grace_ms (otherwise the stop is `not_due` yet: the API may still send it). The range ends at `end_ms`,
by default the last record's time. The nodes are `nodes`, else every node key seen (node_id, else mock id).
A `stop` with the *current* version (reconciliation) is an ordinary request.

Results do not depend on input order: records are sorted by (logged_ms, mock, node, id, method, url, ...).
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from harness.audit.records import RequestRecord
from harness.audit.timeline import Contract, SwitchTimeline
from harness.errors import ConfigError
from harness.util.fastinit import fast_constructor

VERDICTS = ("ok", "stale", "early", "unversioned", "unknown_version")
STOP_ENDPOINT = "/api/v1/stop"


@dataclass(frozen=True, slots=True)
class Offender:
    verdict: str  # stale | early | unversioned | unknown_version | missing_stop
    method: str
    url: str
    logged_ms: int | None  # None for a missing stop (no request exists)
    expected_version: str | None
    seen_version: str | None
    mock_id: str | None
    node: str | None
    port_class: str | None
    height_bracket: tuple[int | None, int | None] = (None, None)
    reason: str = ""  # repeated_stop, or a short human explanation
    served_by_version: str | None = None
    request_id: str = ""

    def __str__(self) -> str:
        lo, hi = self.height_bracket
        where = f"between heights {lo} and {hi}" if lo is not None or hi is not None else "height unknown"
        what = f"{self.method} {self.url}" if self.logged_ms is not None else f"no {self.method} {self.url} was sent"
        why = f" ({self.reason})" if self.reason else ""
        when = f"at {self.logged_ms} ms " if self.logged_ms is not None else ""
        return (
            f"{self.verdict}{why}: {what} on {self.mock_id or self.node} {when}({where}): "
            f"expected {self.expected_version}, saw {self.seen_version or 'no prefix'}"
        )

    def sort_key(self) -> tuple:
        return (self.logged_ms is None, self.logged_ms or 0, self.mock_id or "", self.node or "", self.request_id, self.url)

    def to_dict(self) -> dict:
        return {
            "verdict": self.verdict,
            "method": self.method,
            "url": self.url,
            "logged_ms": self.logged_ms,
            "expected_version": self.expected_version,
            "seen_version": self.seen_version,
            "mock": self.mock_id,
            "node": self.node,
            "port_class": self.port_class,
            "height_bracket": list(self.height_bracket),
            "reason": self.reason,
            "served_by_version": self.served_by_version,
            "request_id": self.request_id,
        }


_new_offender = fast_constructor(Offender)  # Offender(...) in a third of the time; an audit may make 10^5+ of them


@dataclass(frozen=True, slots=True)
class StopCheck:
    """The stop rule's outcome for one node and one hop."""

    hop: int  # index of the switch in the timeline (>= 1)
    old_version: str
    node: str
    status: str  # ok | missing | not_due
    stop_ms: int | None
    repeated: int

    def to_dict(self) -> dict:
        return {
            "hop": self.hop,
            "old_version": self.old_version,
            "node": self.node,
            "status": self.status,
            "stop_ms": self.stop_ms,
            "repeated": self.repeated,
        }


@dataclass
class AuditReport:
    timeline: SwitchTimeline
    contract: Contract
    records: list[RequestRecord]  # sorted
    verdicts: list[str]  # aligned with records
    offenders: list[Offender]  # sorted by time; missing stops last
    counts: dict[str, int]
    per_hop: dict[str, dict[str, int]]  # expected version -> counts
    per_class: dict[str, dict[str, int]]  # management | inference -> counts
    stops: list[StopCheck]
    measured_old_prefix_tail_ms: dict[str, int | None]  # "v0.3.8->v0.3.9" -> ms from switch to last old request
    end_ms: int | None
    expected_stop_indexes: frozenset[int] = field(default_factory=frozenset)

    @property
    def verdict(self) -> str:
        return "fail" if self.offenders else "pass"

    @property
    def passed(self) -> bool:
        return not self.offenders

    @property
    def first_offender(self) -> Offender | None:
        return self.offenders[0] if self.offenders else None

    def to_dict(self) -> dict:
        from harness.audit.report import report_dict

        return report_dict(self)

    def to_json(self, *, indent: int | None = 2) -> str:
        from harness.audit.report import report_json

        return report_json(self, indent=indent)

    def to_text(self, *, max_offenders: int = 20) -> str:
        from harness.audit.report import report_text

        return report_text(self, max_offenders=max_offenders)


def _zero() -> dict[str, int]:
    return dict.fromkeys(VERDICTS, 0)


def _bracket_fn(
    heights: Sequence[tuple[int, int]] | None, timeline: SwitchTimeline
) -> Callable[[int], tuple[int | None, int | None]]:
    """Return f(t_ms) -> (last height whose block time <= t, first height whose block time > t)."""
    pairs = heights
    if pairs is None:
        pairs = [(s.height, s.from_ms) for s in timeline.switches if s.height is not None]
    clean: list[tuple[int, int]] = []
    for i, p in enumerate(pairs):
        try:
            h, t = p
        except (TypeError, ValueError):
            raise ConfigError(f"heights[{i}]: expected (height, block_time_ms), got {p!r}") from None
        if isinstance(h, bool) or isinstance(t, bool) or not isinstance(h, int) or not isinstance(t, int):
            raise ConfigError(f"heights[{i}]: height and block_time_ms must be integers, got {p!r}")
        clean.append((t, h))
    clean.sort()
    times = [t for t, _ in clean]
    hs = [h for _, h in clean]

    memo: list[Any] = [None, None, None]  # [from_ms, until_ms, bracket]: offenders come in time order

    def bracket(t_ms: int) -> tuple[int | None, int | None]:
        lo, hi, known = memo
        if known is not None and lo <= t_ms < hi:
            return known
        i = bisect.bisect_right(times, t_ms)
        memo[:] = (times[i - 1] if i > 0 else -math.inf, times[i] if i < len(times) else math.inf,
                   (hs[i - 1] if i > 0 else None, hs[i] if i < len(hs) else None))  # fmt: skip
        return memo[2]

    return bracket


_TIME = attrgetter("logged_ms")


def sort_records(records: Iterable[RequestRecord]) -> tuple[list[RequestRecord], list[int]]:
    """Records in a canonical order that does not depend on the input order, and their times.

    Sorted by RequestRecord.sort_key: time, then mock, node, journal id, method, url, ... The tuple comparison of
    the records themselves gives that order in C (linear for journals already in order, or in reverse).
    """
    records = list(records)
    try:
        recs = sorted(records)  # a RequestRecord compares by its sort key (its fields are laid out in that order)
    except TypeError:  # a None met a string in a tie (a node id given for some records of a mock only, say)
        recs = sorted(records, key=RequestRecord.sort_key)
    return recs, list(map(_TIME, recs))


def audit(
    records: Iterable[RequestRecord],
    timeline: SwitchTimeline,
    contract: Contract | None = None,
    *,
    nodes: list[str] | None = None,
    heights: Sequence[tuple[int, int]] | None = None,
    end_ms: int | None = None,
) -> AuditReport:
    """Judge every request against the timeline and contract. See the module docstring for the rules."""
    contract = contract or Contract()
    if not isinstance(timeline, SwitchTimeline):
        timeline = SwitchTimeline(timeline)  # any sequence of Switch
    recs, times = sort_records(records)
    n_versions = len(timeline)
    starts = [s.from_ms for s in timeline.switches]
    versions = timeline.versions
    # Where each version appears (a rollback makes a version appear again later in the timeline).
    positions: dict[str, list[int]] = {}
    for i, v in enumerate(versions):
        positions.setdefault(v, []).append(i)
    grace, tol, stop_old = contract.grace_ms, contract.early_tolerance_ms, contract.stop_old
    if end_ms is None:
        end_ms = times[-1] if times else None
    bracket = _bracket_fn(heights, timeline)
    node_set = set(nodes) if nodes is not None else None

    # Stop rule: records are in time order, so the first old-version stop seen per (hop, node) is the expected one.
    expected_stop: set[int] = set()
    stop_first: dict[tuple[int, str], int] = {}
    stop_repeats: dict[tuple[int, str], int] = {}
    verdicts: list[str] = []
    offenders: list[Offender] = []
    tails: dict[int, int] = {}
    counts = _zero()
    per_hop = {v: _zero() for v in versions}
    # Segment e holds the records whose expected version is versions[e] (times are sorted).
    bounds = [0, *(bisect.bisect_left(times, s) for s in starts[1:]), len(recs)]
    append_verdict, append_offender, new_offender = verdicts.append, offenders.append, _new_offender
    for e in range(n_versions):
        current = versions[e]
        lo, hi = bounds[e], bounds[e + 1]
        older: dict[str | None, int | None] = {}  # seen version -> its appearance the verdict uses (cached per segment)
        for i in range(lo, hi):
            r = recs[i]
            seen = r.version_seen
            if seen == current:
                append_verdict("ok")
                continue
            t = r.logged_ms
            reason = ""
            if seen is None:
                verdict = "unversioned"
            else:
                if seen in older:
                    vi = older[seen]
                else:
                    pos = positions.get(seen)
                    # the latest earlier appearance (an old version) wins over a later one (not yet switched to)
                    k = bisect.bisect_left(pos, e) if pos else 0
                    vi = older[seen] = None if pos is None else (pos[k - 1] if k > 0 else pos[0])
                if vi is None:
                    verdict = "unknown_version"
                elif vi > e:
                    verdict = "ok" if t >= starts[vi] - tol else "early"
                else:  # an older version than expected: grace, or the old-version stop
                    hop = vi + 1
                    node = r.node_key if stop_old and r.method == "POST" and r.endpoint == STOP_ENDPOINT else None
                    if node is not None and (node_set is None or node in node_set):
                        key = (hop, node)
                        if key in stop_first:
                            stop_repeats[key] = stop_repeats.get(key, 0) + 1
                            if t >= starts[hop] + grace:
                                verdict, reason = "stale", "repeated_stop"
                            else:
                                verdict = "ok"  # old-prefix traffic inside the grace window
                        else:
                            stop_first[key] = i
                            expected_stop.add(i)
                            verdict = "ok"
                    else:
                        verdict = "ok" if t < starts[hop] + grace else "stale"
                    if t - starts[hop] > tails.get(hop, -1) and i not in expected_stop:
                        tails[hop] = t - starts[hop]
            append_verdict(verdict)
            if verdict != "ok":
                append_offender(
                    new_offender(
                        verdict=verdict,
                        method=r.method,
                        url=r.url,
                        logged_ms=t,
                        expected_version=current,
                        seen_version=seen,
                        mock_id=r.mock_id,
                        node=r.node_key,
                        port_class=r.port_class,
                        height_bracket=bracket(t),
                        reason=reason,
                        served_by_version=r.served_by_version,
                        request_id=r.request_id,
                    )
                )
        for verdict, n in Counter(verdicts[lo:hi]).items():
            per_hop[current][verdict] += n
            counts[verdict] += n
    per_class = {"management": _zero(), "inference": _zero()}
    for (verdict, port_class), n in Counter(zip(verdicts, map(attrgetter("port_class"), recs), strict=True)).items():
        per_class[port_class][verdict] += n

    stops: list[StopCheck] = []
    if stop_old and n_versions > 1:
        pairs = set(map(attrgetter("node_id", "mock_id"), recs))
        all_nodes = sorted(node_set if node_set is not None else {n if n is not None else m for n, m in pairs})
        for hop in range(1, n_versions):
            old = versions[hop - 1]
            due = end_ms is not None and end_ms >= starts[hop] + grace
            for node in all_nodes:
                first = stop_first.get((hop, node))
                if first is not None:
                    status, stop_ms = "ok", recs[first].logged_ms
                else:
                    status, stop_ms = ("missing" if due else "not_due"), None
                stops.append(StopCheck(hop, old, node, status, stop_ms, stop_repeats.get((hop, node), 0)))
                if status == "missing":
                    offenders.append(
                        Offender(
                            verdict="missing_stop",
                            method="POST",
                            url=f"/{old}{STOP_ENDPOINT}",
                            logged_ms=None,
                            expected_version=old,
                            seen_version=None,
                            mock_id=None,
                            node=node,
                            port_class="management",
                            height_bracket=bracket(starts[hop]),
                            reason=f"no POST /{old}{STOP_ENDPOINT} from node {node} in "
                            f"[{starts[hop]}, {end_ms}] after the switch to {versions[hop]}",
                        )
                    )

    offenders.sort(key=Offender.sort_key)
    tail_report = {f"{versions[h - 1]}->{versions[h]}": tails.get(h) for h in range(1, n_versions)}
    return AuditReport(
        timeline=timeline,
        contract=contract,
        records=recs,
        verdicts=verdicts,
        offenders=offenders,
        counts=counts,
        per_hop=per_hop,
        per_class=per_class,
        stops=stops,
        measured_old_prefix_tail_ms=tail_report,
        end_ms=end_ms,
        expected_stop_indexes=frozenset(expected_stop),
    )
