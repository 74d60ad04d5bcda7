"""The audit engine: a verdict per request, each node's observed switch, counts, offenders and the stop rule.
Pure; no I/O. The contract behind the rules is described in contracts.py.

Verdict of one request of node N seen with version V at time t (E = the version expected at t, see timeline.py):
- `unversioned`: no version prefix; `unknown_version`: a prefix that is not in the timeline;
- `ok`: V == E, or V is an older version inside its grace window, or V is a later version inside its early
  tolerance, or V's request is node N's first `POST /<V>/api/v1/stop` after V was replaced, inside the grace window;
- `early`: V is later than E and t < (switch to V) - early_tolerance_ms;
- `late`: V is older than E, t >= (switch away from V) + grace_ms, and node N had not yet sent a request on any
  later version (its own switch came late, or never); also N's first old-version stop when it comes that late
  (reason `late_stop`);
- `stale`: V is older than E, t >= (switch away from V) + grace_ms, and node N had already sent requests on a later
  version (a client that kept the old prefix); also a further old-version stop after the grace window when the
  node had already stopped that version (reason `repeated_stop`).

Observed switch (`AuditReport.switches_seen`): for each hop and node, the first request on the new (or a later)
version: when it came relative to the switch block and which block was the latest then. This is how a report says
"switched one block late" or "never used v0.3.9", from the MLNode journals alone.

Stop rule (contract.stop_old): for each hop k (old -> new at S_k) and each node, the stops considered are
`POST /<old>/api/v1/stop` with S_k <= t. The first (in time) is the expected stop: `ok` inside [S_k, S_k + grace),
`late` (reason `late_stop`) after it. Further stops inside the grace window are old-prefix traffic the contract
tolerates (`ok`) unless it says `stop_once`; a further stop at or after S_k + grace_ms is a `stale` offender
(reason `repeated_stop`). A node
without any is a `missing_stop` offender when the audited range reaches S_k + grace_ms (otherwise `not_due`: the
API may still send it). The range ends at `end_ms`, by default the last record's time. The nodes are `nodes`, else
every node key seen (node_id, else mock id). A `stop` with the *current* version (reconciliation) is an ordinary
request.

Results do not depend on input order: records are sorted by (logged_ms, mock, node, id, method, url, ...).
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from harness.audit.contracts import Contract
from harness.audit.network import NetworkView, network_view
from harness.audit.records import RequestRecord
from harness.audit.timeline import SwitchTimeline
from harness.errors import ConfigError
from harness.util.fastinit import fast_constructor

VERDICTS = ("ok", "late", "stale", "early", "unversioned", "unknown_version")
STOP_ENDPOINT = "/api/v1/stop"


@dataclass(frozen=True, slots=True)
class Offender:
    verdict: str  # late | stale | early | unversioned | unknown_version | missing_stop
    method: str
    url: str
    logged_ms: int | None  # None for a missing stop (no request exists)
    expected_version: str | None
    seen_version: str | None
    mock_id: str | None
    node: str | None
    port_class: str | None
    height_bracket: tuple[int | None, int | None] = (None, None)
    reason: str = ""  # late_stop, repeated_stop, not_switched, or a short human explanation
    served_by_version: str | None = None
    request_id: str = ""

    def __str__(self) -> str:
        lo, hi = self.height_bracket
        if lo is not None and hi is not None:
            where = f"between heights {lo} and {hi}"
        elif lo is None and hi is None:
            where = "height unknown"
        else:  # before the first block the timeline saw, or after its last
            where = f"before height {hi}" if lo is None else f"after height {lo}"
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
    status: str  # ok | late | missing | not_due
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


@dataclass(frozen=True, slots=True)
class SwitchSeen:
    """When one node was first seen on the new version of one hop (a request on it or on a later version)."""

    hop: int  # index of the switch in the timeline (>= 1)
    new_version: str
    node: str
    first_ms: int | None  # None: the node never used the new (or a later) version in the audited range
    delay_ms: int | None  # first_ms minus the switch time (negative: before the switch block)
    latest_height: int | None  # the latest block whose header time is <= first_ms
    switch_height: int | None  # the block whose processing had to switch the node (the timeline's block at S)

    @property
    def blocks_after(self) -> int | None:
        """How many blocks after the switch block the node was first seen on the new version (0: in time)."""
        if self.latest_height is None or self.switch_height is None:
            return None
        return self.latest_height - self.switch_height

    def describe(self) -> str:
        if self.first_ms is None:
            return f"{self.node}: never used {self.new_version} (or a later version)"
        where = f", latest block {self.latest_height}" if self.latest_height is not None else ""
        late = self.blocks_after
        blocks = "" if not late else f" ({abs(late)} block{'s' if abs(late) > 1 else ''} {'after' if late > 0 else 'before'})"
        return f"{self.node}: first {self.new_version} request {self.delay_ms:+d} ms from the switch block{where}{blocks}"

    def to_dict(self) -> dict:
        return {
            "hop": self.hop,
            "new_version": self.new_version,
            "node": self.node,
            "first_ms": self.first_ms,
            "delay_ms": self.delay_ms,
            "latest_height": self.latest_height,
            "switch_height": self.switch_height,
            "blocks_after": self.blocks_after,
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
    switches_seen: list[SwitchSeen] = field(default_factory=list)
    network: NetworkView | None = None  # with participants=...: each participant's switch, the spread, who broke it

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
    participants: Mapping[str, Sequence[str]] | None = None,
) -> AuditReport:
    """Judge every request against the timeline and contract. See the module docstring for the rules.
    `participants` ({participant id: its MLNode ids}) adds the network view (network.py)."""
    contract = contract or Contract()
    if not isinstance(timeline, SwitchTimeline):
        timeline = SwitchTimeline(timeline)  # any sequence of Switch
    recs, times = sort_records(records)
    if end_ms is None:
        end_ms = times[-1] if times else None
    job = _Job(recs, times, timeline, contract, set(nodes) if nodes is not None else None, _bracket_fn(heights, timeline))
    resolved = job.resolve_versions()
    first_seen = job.first_seen_on_later(resolved)
    verdicts, offenders, tails = job.judge_requests(resolved, first_seen)
    stops = job.check_stops(end_ms, offenders)
    offenders.sort(key=Offender.sort_key)
    counts, per_hop, per_class = job.count(verdicts)
    versions = timeline.versions
    seen = job.switches_seen(first_seen, heights)
    network = None
    if participants is not None:
        network = network_view(participants, records=recs, offenders=offenders, switches_seen=seen, timeline=timeline)
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
        measured_old_prefix_tail_ms={f"{versions[h - 1]}->{versions[h]}": tails.get(h) for h in range(1, len(versions))},
        end_ms=end_ms,
        expected_stop_indexes=frozenset(job.expected_stop),
        switches_seen=seen,
        network=network,
    )


UNVERSIONED, UNKNOWN = -1, -2  # resolved version indexes of records without a timeline version


class _Job:
    """One audit run: the named steps of `audit()` over sorted records."""

    def __init__(self, recs, times, timeline: SwitchTimeline, contract: Contract, node_set, bracket) -> None:
        self.recs, self.times, self.timeline, self.contract = recs, times, timeline, contract
        self.node_set, self.bracket = node_set, bracket
        self.versions = timeline.versions
        self.starts = [s.from_ms for s in timeline.switches]
        # Segment e holds the records whose expected version is versions[e] (times are sorted).
        self.bounds = [0, *(bisect.bisect_left(times, s) for s in self.starts[1:]), len(recs)]
        # Where each version appears (a rollback makes a version appear again later in the timeline).
        self.positions: dict[str, list[int]] = {}
        for i, v in enumerate(self.versions):
            self.positions.setdefault(v, []).append(i)
        self.node_keys = [n if n is not None else m for n, m in map(attrgetter("node_id", "mock_id"), recs)]
        self.expected_stop: set[int] = set()
        self.stop_first: dict[tuple[int, str], int] = {}
        self.stop_repeats: dict[tuple[int, str], int] = {}

    def segments(self) -> Iterable[tuple[int, int, int]]:
        for e in range(len(self.versions)):
            yield e, self.bounds[e], self.bounds[e + 1]

    def resolve_versions(self) -> list[int]:
        """Per record, the timeline index its version stands for (relative to the record's segment: the latest
        earlier appearance of an old version wins over a later one not yet switched to), or UNVERSIONED/UNKNOWN."""
        out: list[int] = []
        append, positions = out.append, self.positions
        for e, lo, hi in self.segments():
            current = self.versions[e]
            older: dict[str, int] = {}  # seen version -> the index it stands for (cached per segment)
            for r in self.recs[lo:hi]:
                seen = r.version_seen
                if seen == current:
                    append(e)
                elif seen is None:
                    append(UNVERSIONED)
                elif seen in older:
                    append(older[seen])
                else:
                    pos = positions.get(seen)
                    k = bisect.bisect_left(pos, e) if pos else 0
                    older[seen] = UNKNOWN if pos is None else (pos[k - 1] if k > 0 else pos[0])
                    append(older[seen])
        return out

    def first_seen_on_later(self, resolved: list[int]) -> dict[tuple[int, str], int]:
        """{(hop k, node): index of the node's first record on version k or later} (records are in time order)."""
        first: dict[tuple[int, str], int] = {}
        reached: dict[str, int] = {}
        keys = self.node_keys
        for i, vi in enumerate(resolved):
            if vi < 1:
                continue
            node = keys[i]
            top = reached.get(node, 0)
            if vi > top:
                for k in range(top + 1, vi + 1):
                    first[(k, node)] = i
                reached[node] = vi
        return first

    def judge_requests(self, resolved, first_seen) -> tuple[list[str], list[Offender], dict[int, int]]:
        """A verdict per record (aligned with the sorted records), the request offenders and the old-prefix tails."""
        grace, tol, stop_old = self.contract.grace_ms, self.contract.early_tolerance_ms, self.contract.stop_old
        starts, recs, node_set = self.starts, self.recs, self.node_set
        verdicts: list[str] = []
        offenders: list[Offender] = []
        tails: dict[int, int] = {}
        for e, lo, hi in self.segments():
            for i in range(lo, hi):
                vi = resolved[i]
                if vi == e:
                    verdicts.append("ok")
                    continue
                r = recs[i]
                t = r.logged_ms
                reason = ""
                if vi == UNVERSIONED:
                    verdict = "unversioned"
                elif vi == UNKNOWN:
                    verdict = "unknown_version"
                elif vi > e:
                    verdict = "ok" if t >= starts[vi] - tol else "early"
                else:  # an older version than expected: grace, late or stale, or the old-version stop
                    hop = vi + 1
                    node = self.node_keys[i]
                    past_grace = t >= starts[hop] + grace
                    if stop_old and r.method == "POST" and r.endpoint == STOP_ENDPOINT and (node_set is None or node in node_set):
                        key = (hop, node)
                        if key not in self.stop_first:
                            self.stop_first[key] = i
                            self.expected_stop.add(i)
                            verdict, reason = ("late", "late_stop") if past_grace else ("ok", "")
                        else:
                            self.stop_repeats[key] = self.stop_repeats.get(key, 0) + 1
                            repeat_is_offence = past_grace or self.contract.stop_once
                            verdict, reason = ("stale", "repeated_stop") if repeat_is_offence else ("ok", "")
                    elif not past_grace:
                        verdict = "ok"
                    else:
                        switched = first_seen.get((hop, node))
                        verdict = "stale" if switched is not None and switched < i else "late"
                        if verdict == "late":
                            reason = "not_switched"
                    if i not in self.expected_stop and t - starts[hop] > tails.get(hop, -1):
                        tails[hop] = t - starts[hop]
                verdicts.append(verdict)
                if verdict != "ok":
                    offenders.append(self._offender(r, verdict, reason, self.versions[e]))
        return verdicts, offenders, tails

    def _offender(self, r: RequestRecord, verdict: str, reason: str, expected: str) -> Offender:
        return _new_offender(
            verdict=verdict,
            method=r.method,
            url=r.url,
            logged_ms=r.logged_ms,
            expected_version=expected,
            seen_version=r.version_seen,
            mock_id=r.mock_id,
            node=r.node_key,
            port_class=r.port_class,
            height_bracket=self.bracket(r.logged_ms),
            reason=reason,
            served_by_version=r.served_by_version,
            request_id=r.request_id,
        )

    def all_nodes(self) -> list[str]:
        if self.node_set is not None:
            return sorted(self.node_set)
        return sorted(set(self.node_keys))

    def check_stops(self, end_ms: int | None, offenders: list[Offender]) -> list[StopCheck]:
        """The stop rule per hop and node; appends a `missing_stop` offender for each stop that was due."""
        if not self.contract.stop_old or len(self.versions) < 2:
            return []
        grace, starts, versions = self.contract.grace_ms, self.starts, self.versions
        stops: list[StopCheck] = []
        nodes = self.all_nodes()
        for hop in range(1, len(versions)):
            old = versions[hop - 1]
            due = end_ms is not None and end_ms >= starts[hop] + grace
            for node in nodes:
                first = self.stop_first.get((hop, node))
                if first is not None:
                    stop_ms = self.recs[first].logged_ms
                    status = "late" if stop_ms >= starts[hop] + grace else "ok"
                else:
                    status, stop_ms = ("missing" if due else "not_due"), None
                stops.append(StopCheck(hop, old, node, status, stop_ms, self.stop_repeats.get((hop, node), 0)))
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
                            height_bracket=self.bracket(starts[hop]),
                            reason=f"no POST /{old}{STOP_ENDPOINT} from node {node} in "
                            f"[{starts[hop]}, {end_ms}] after the switch to {versions[hop]}",
                        )
                    )
        return stops

    def count(self, verdicts: list[str]) -> tuple[dict[str, int], dict[str, dict[str, int]], dict[str, dict[str, int]]]:
        counts = _zero()
        per_hop = {v: _zero() for v in self.versions}
        for e, lo, hi in self.segments():
            for verdict, n in Counter(verdicts[lo:hi]).items():
                per_hop[self.versions[e]][verdict] += n
                counts[verdict] += n
        per_class = {"management": _zero(), "inference": _zero()}
        for (verdict, port_class), n in Counter(zip(verdicts, map(attrgetter("port_class"), self.recs), strict=True)).items():
            per_class[port_class][verdict] += n
        return counts, per_hop, per_class

    def switches_seen(self, first_seen: dict[tuple[int, str], int], heights) -> list[SwitchSeen]:
        """Per hop and node: when the node was first seen on the new version, in ms and blocks from the switch."""
        switches = self.timeline.switches
        block_at = {t: h for h, t in heights} if heights is not None else {s.from_ms: s.height for s in switches}
        out: list[SwitchSeen] = []
        for hop in range(1, len(switches)):
            s = switches[hop]
            switch_height = block_at.get(s.from_ms)
            for node in self.all_nodes():
                i = first_seen.get((hop, node))
                if i is None:
                    out.append(SwitchSeen(hop, s.version, node, None, None, None, switch_height))
                    continue
                t = self.recs[i].logged_ms
                out.append(SwitchSeen(hop, s.version, node, t, t - s.from_ms, self.bracket(t)[0], switch_height))
        return out
