"""The audit engine: a verdict per request, each MLNode's observed switch, counts, offenders and the stop rule.
Pure; no I/O. The contract behind the rules is described in contracts.py, the clock in basis.py.

"Node" below, and `node` in the code, is always an **MLNode** (its key: node_id, else the mock id); the API node is
the one that sends the requests. The API node's switch is judged as each of its MLNodes saw it: behind one API node,
an old-prefix request from a lingering client is `stale` on an MLNode that had already seen the new version and
`late` on one that had not.

A hop k switches from version O to V. Its times (timeline.py): S = from_ms (V expected from then on), D = due (the
API node must have shown its switch by then), U = until (old-prefix requests in flight allowed until then). An
MLNode has *seen the switch* once it received a request on V (or a later version) or its old-version stop after S.
Verdict of one request to MLNode N seen with version X at time t (E = the version expected at t):
- `unversioned`: no version prefix; `unknown_version`: a prefix that is not in the timeline;
- `ok`: X == E; or X is a later version inside its early tolerance; or X is older and t < D; or X is older,
  N had seen the switch before t and t < U; or X's request is N's first `POST /<X>/api/v1/stop` after S, before D;
- `early`: X is later than E and t < (switch to X) - early_tolerance_ms;
- `late`: X is older than E, t >= D, and N had not seen the switch before t (it came late, or never); also N's
  first old-version stop when it comes at or after D (reason `late_stop`);
- `stale`: X is older than E, t >= U, and N had seen the switch (a client that kept the old prefix); also a further
  old-version stop at or after U, or at any time when the contract says `stop_once` (reason `repeated_stop`).

Observed switch (`AuditReport.switches_seen`): for each hop and MLNode, the first request on the new (or a later)
version: when it came relative to S and which block was the latest then. This is how a report says "switched one
block late" or "never used v0.3.9", from the MLNode journals alone.

Stop rule (contract.stop_old): for each hop and MLNode, the stops considered are `POST /<O>/api/v1/stop` with
S <= t. The first (in time) is the expected stop: `ok` before D, `late` (reason `late_stop`) from D on. An MLNode
without any is a `missing_stop` offender when the audited range reaches D (otherwise `not_due`: the API node may
still send it). The range ends at `end_ms`, by default the last record's time. The MLNodes are `nodes`, else every
node key seen. A `stop` with the *current* version (reconciliation) is an ordinary request.

Clocks (`clocks=`, basis.py): each participant's MLNodes may be judged by a timeline of their own (S, D and U from
when its API node received the blocks); nodes of no clock are judged by `timeline`.

Results do not depend on input order: records are sorted by (logged_ms, mock, node, id, method, url, ...).
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import attrgetter
from typing import TYPE_CHECKING

from harness.audit.contracts import SwitchContract
from harness.audit.lifecycle import SwitchOrder, UserChat, chats_by_node, refusals, switch_orders
from harness.audit.merge import Merged, groups
from harness.audit.network import network_view
from harness.audit.records import RequestRecord
from harness.audit.results import (
    STOP_ENDPOINT,
    AuditReport,
    Offender,
    StopCheck,
    SwitchSeen,
    new_offender,
    zero_counts,
)
from harness.audit.timeline import SwitchTimeline
from harness.errors import ConfigError

if TYPE_CHECKING:
    from harness.audit.basis import ParticipantClock


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

    window: list[float] = [0.0, 0.0]  # [from_ms, until_ms] of the last bracket: offenders come in time order
    last: list[tuple[int | None, int | None] | None] = [None]

    def bracket(t_ms: int) -> tuple[int | None, int | None]:
        known = last[0]
        if known is not None and window[0] <= t_ms < window[1]:
            return known
        i = bisect.bisect_right(times, t_ms)
        window[:] = (times[i - 1] if i > 0 else -math.inf, times[i] if i < len(times) else math.inf)
        last[0] = known = (hs[i - 1] if i > 0 else None, hs[i] if i < len(hs) else None)
        return known

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
    contract: SwitchContract | None = None,
    *,
    nodes: list[str] | None = None,
    heights: Sequence[tuple[int, int]] | None = None,
    end_ms: int | None = None,
    participants: Mapping[str, Sequence[str]] | None = None,
    clocks: Sequence[ParticipantClock] = (),
    user_chats: Sequence[UserChat] | None = None,
) -> AuditReport:
    """Judge every request against the timeline and contract. See the module docstring for the rules.
    `participants` ({participant id: its MLNode ids}) adds the network view (network.py); `clocks` judges each
    participant's MLNodes by its own timeline (basis.py). `user_chats` (what the users saw) adds the failed user
    chats to each node's switch gap (lifecycle.py)."""
    contract = contract or SwitchContract()
    if not isinstance(timeline, SwitchTimeline):
        timeline = SwitchTimeline(timeline)  # any sequence of Switch
    recs, times = sort_records(records)
    if end_ms is None:
        end_ms = times[-1] if times else None
    bracket = _bracket_fn(heights, timeline)  # offenders are placed among the chain's own blocks
    every_node = sorted(set(nodes) if nodes is not None else {r.node_key for r in recs})
    chats = chats_by_node(user_chats, participants, every_node)
    out, orders = _judge_groups(recs, times, timeline, contract, nodes, heights, end_ms, clocks, chats, bracket)
    offenders = sorted(out.offenders + refusals(recs, timeline, bracket), key=Offender.sort_key)
    seen = sorted(out.seen, key=lambda x: (x.hop, x.node))
    network = None
    if participants is not None:
        network = network_view(participants, records=recs, offenders=offenders, switches_seen=seen, timeline=timeline)
    versions = timeline.versions
    return AuditReport(
        timeline=timeline,
        contract=contract,
        records=recs,
        verdicts=out.verdicts,
        offenders=offenders,
        counts=out.counts,
        per_hop=out.per_hop,
        per_class=out.per_class,
        stops=sorted(out.stops, key=lambda x: (x.hop, x.node)),
        measured_old_prefix_tail_ms={f"{versions[h - 1]}->{versions[h]}": out.tails.get(h) for h in range(1, len(versions))},
        end_ms=end_ms,
        expected_stop_indexes=frozenset(out.expected_stop),
        switches_seen=seen,
        network=network,
        timing=[t for c in clocks for t in c.timing],
        lifecycle=sorted(orders, key=lambda o: (o.hop, o.node)),
    )


def _judge_groups(
    recs: list[RequestRecord],
    times: list[int],
    timeline: SwitchTimeline,
    contract: SwitchContract,
    nodes: list[str] | None,
    heights: Sequence[tuple[int, int]] | None,
    end_ms: int | None,
    clocks: Sequence[ParticipantClock],
    chats: dict[str, list[UserChat]] | None,
    bracket: Callable[[int], tuple[int | None, int | None]],
) -> tuple[Merged, list[SwitchOrder]]:
    """Judge each clock's group of records (merge.groups) by its timeline; the merged verdicts and switch orders."""
    out = Merged(len(recs))
    orders: list[SwitchOrder] = []
    for clock_timeline, node_set, index, delivered in groups(recs, timeline, nodes, clocks):
        group = recs if index is None else [recs[i] for i in index]
        group_times = times if index is None else [times[i] for i in index]
        job = _Job(group, group_times, clock_timeline, contract, node_set, bracket)
        # a switch is placed among the blocks the participant's API node had received, where its proxy saw them
        seen_heights = delivered or heights
        job.seen_bracket = _bracket_fn(seen_heights, clock_timeline) if delivered else bracket
        out.add(job, index, end_ms, seen_heights)
        group_nodes = sorted(node_set) if node_set is not None else None
        orders += switch_orders(group, clock_timeline, group_nodes, end_ms=end_ms, user_chats=chats)
    return out, orders


UNVERSIONED, UNKNOWN = -1, -2  # resolved version indexes of records without a timeline version


class _Job:
    """One audit run: the named steps of `audit()` over sorted records."""

    def __init__(
        self,
        recs: list[RequestRecord],
        times: list[int],
        timeline: SwitchTimeline,
        contract: SwitchContract,
        node_set: set[str] | None,
        bracket: Callable[[int], tuple[int | None, int | None]],
    ) -> None:
        self.recs, self.times, self.timeline, self.contract = recs, times, timeline, contract
        self.node_set, self.bracket = node_set, bracket
        self.seen_bracket = bracket  # where a node's switch is placed (audit() sets the participant's deliveries)
        self.versions = timeline.versions
        self.starts = [s.from_ms for s in timeline.switches]
        grace = contract.grace_ms
        self.due = [s.due(grace) for s in timeline.switches]  # hop k: the node must have switched by due[k]
        self.until = [s.until(grace) for s in timeline.switches]  # and old prefix in flight is allowed until until[k]
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

    def switched(self, resolved: list[int], first_seen: dict[tuple[int, str], int]) -> dict[tuple[int, str], int]:
        """{(hop k, node): index of the node's first sign of switching: a request on version k or later, or its stop
        of version k-1 between the switch to k and its due time (a late stop is part of a late switch)."""
        out = dict(first_seen)
        keys, recs, due = self.node_keys, self.recs, self.due
        for e, lo, hi in self.segments():
            for i in range(lo, hi):
                vi = resolved[i]
                r = recs[i]
                if 0 <= vi < e and r.method == "POST" and r.endpoint == STOP_ENDPOINT and r.logged_ms < due[vi + 1]:
                    key = (vi + 1, keys[i])
                    if i < out.get(key, i + 1):
                        out[key] = i
        return out

    def judge_requests(
        self, resolved: list[int], first_seen: dict[tuple[int, str], int], switched: dict[tuple[int, str], int]
    ) -> tuple[list[str], list[Offender], dict[int, int]]:
        """A verdict per record (aligned with the sorted records), the request offenders and the old-prefix tails."""
        tol, stop_old = self.contract.early_tolerance_ms, self.contract.stop_old
        starts, due, until, recs, node_set = self.starts, self.due, self.until, self.recs, self.node_set
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
                else:  # an older version than expected: in time, late or stale, or the old-version stop
                    hop = vi + 1
                    node = self.node_keys[i]
                    if stop_old and r.method == "POST" and r.endpoint == STOP_ENDPOINT and (node_set is None or node in node_set):
                        verdict, reason = self._stop_verdict(i, hop, node, t)
                    elif t < due[hop]:
                        verdict = "ok"
                    elif switched.get((hop, node), i) >= i:
                        verdict, reason = "late", "not_switched"
                    else:
                        verdict = "ok" if t < until[hop] else "stale"
                    if i not in self.expected_stop and t - starts[hop] > tails.get(hop, -1):
                        tails[hop] = t - starts[hop]
                verdicts.append(verdict)
                if verdict != "ok":
                    offenders.append(self._offender(r, verdict, reason, self.versions[e]))
        return verdicts, offenders, tails

    def _stop_verdict(self, i: int, hop: int, node: str, t: int) -> tuple[str, str]:
        """The node's first old-version stop of this hop is the expected one (late from `due` on); a further one
        is old-prefix traffic, `stale` from `until` on or whenever the contract says stop_once."""
        key = (hop, node)
        if key not in self.stop_first:
            self.stop_first[key] = i
            self.expected_stop.add(i)
            return ("late", "late_stop") if t >= self.due[hop] else ("ok", "")
        self.stop_repeats[key] = self.stop_repeats.get(key, 0) + 1
        if t >= self.until[hop] or self.contract.stop_once:
            return "stale", "repeated_stop"
        return "ok", ""

    def _offender(self, r: RequestRecord, verdict: str, reason: str, expected: str) -> Offender:
        return new_offender(
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
        starts, versions = self.starts, self.versions
        stops: list[StopCheck] = []
        nodes = self.all_nodes()
        for hop in range(1, len(versions)):
            old = versions[hop - 1]
            due = end_ms is not None and end_ms >= self.due[hop]
            for node in nodes:
                first = self.stop_first.get((hop, node))
                if first is not None:
                    stop_ms = self.recs[first].logged_ms
                    status = "late" if stop_ms >= self.due[hop] else "ok"
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
        counts = zero_counts()
        per_hop = {v: zero_counts() for v in self.versions}
        for e, lo, hi in self.segments():
            for verdict, n in Counter(verdicts[lo:hi]).items():
                per_hop[self.versions[e]][verdict] += n
                counts[verdict] += n
        per_class = {"management": zero_counts(), "inference": zero_counts()}
        for (verdict, port_class), n in Counter(zip(verdicts, map(attrgetter("port_class"), self.recs), strict=True)).items():
            per_class[port_class][verdict] += n
        return counts, per_hop, per_class

    def switches_seen(
        self, first_seen: dict[tuple[int, str], int], heights: Sequence[tuple[int, int]] | None
    ) -> list[SwitchSeen]:
        """Per hop and node: when the node was first seen on the new version and when it stopped the old one, in ms
        (and blocks) from the switch time S. On the delivery clock that is the node's reaction to block B."""
        switches = self.timeline.switches
        block_at = {t: h for h, t in heights} if heights is not None else {s.from_ms: s.height for s in switches}
        out: list[SwitchSeen] = []
        for hop in range(1, len(switches)):
            s = switches[hop]
            # block B itself where the timeline knows H (several blocks may reach a node in the same millisecond)
            switch_height = self.contract.switch_block(s.height) if s.height is not None else block_at.get(s.from_ms)
            for node in self.all_nodes():
                stop = self.stop_first.get((hop, node))
                stop_delay = None if stop is None else self.recs[stop].logged_ms - s.from_ms
                i = first_seen.get((hop, node))
                if i is None:
                    out.append(SwitchSeen(hop, s.version, node, None, None, None, switch_height, stop_delay))
                    continue
                t = self.recs[i].logged_ms
                # placed where the node showed its switch: its first request on V or its old-version stop, whichever
                # came first (the proxy lets block B+1, and the blocks queued behind it, through only after that)
                shown = t if stop is None else min(t, self.recs[stop].logged_ms)
                latest = self.seen_bracket(shown)[0]
                out.append(SwitchSeen(hop, s.version, node, t, t - s.from_ms, latest, switch_height, stop_delay))
        return out
