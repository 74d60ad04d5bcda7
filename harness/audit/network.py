"""The network view of an audit: one chain timeline, several participants (each an API node with its own MLNodes).
Pure; no I/O. `audit(..., participants={"p1": ["p1-mlnode-1"], "p2": [...]})` attaches it as `report.network`.

The promise it checks is the atomic network switch: at the upgrade height every participant's API node switches to
the new version's URLs. Per participant and hop:
- its switch: its first request on the new version (or a later one) over all its MLNodes, in ms and blocks from the
  switch block (the per-MLNode detail is `report.switches_seen`). A participant that sent nothing between the switch
  and its first new-version request cannot be shown to have lagged: the switch time is a measurement, and the
  spread between the first and the last participant's switch is reported, not judged;
- its offenders: the audit's request verdicts (late, stale, early, unversioned, unknown_version, missing_stop) on its
  MLNodes. Atomicity is broken when any participant has one; the network verdict names the participant and the
  request of the first offender in time;
- unserved: requests its MLNodes had no answer for (WireMock journaled them as unmatched, 404): the version the
  API node asked for is not deployed there. A right prefix to a version that is missing is not an API-node fault;
  it is shown per participant so an operator sees which participant's users got no answers and why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.errors import ConfigError

if TYPE_CHECKING:
    from harness.audit.records import RequestRecord
    from harness.audit.results import Offender, SwitchSeen
    from harness.audit.timeline import SwitchTimeline


@dataclass(frozen=True, slots=True)
class ParticipantSwitch:
    """When one participant was first seen on the new version of one hop (over all its MLNodes)."""

    hop: int
    new_version: str
    participant: str
    first_ms: int | None  # None: none of its MLNodes got a request on the new (or a later) version
    delay_ms: int | None
    latest_height: int | None
    switch_height: int | None
    node: str | None  # the MLNode of that first request
    stop_delay_ms: int | None = None  # its first old-version stop over all its MLNodes, from S

    @property
    def blocks_after(self) -> int | None:
        if self.latest_height is None or self.switch_height is None:
            return None
        return self.latest_height - self.switch_height

    def short(self) -> str:
        if self.first_ms is None or self.delay_ms is None:
            return "never"
        b = self.blocks_after
        blocks = f" ({b:+d} block{'s' if abs(b) > 1 else ''})" if b else ""
        stop = f", stop {self.stop_delay_ms:+d} ms" if self.stop_delay_ms is not None else ""
        return f"{self.delay_ms:+d} ms{blocks}{stop}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "hop": self.hop,
            "new_version": self.new_version,
            "participant": self.participant,
            "first_ms": self.first_ms,
            "delay_ms": self.delay_ms,
            "latest_height": self.latest_height,
            "switch_height": self.switch_height,
            "blocks_after": self.blocks_after,
            "node": self.node,
            "stop_delay_ms": self.stop_delay_ms,
        }


@dataclass(frozen=True, slots=True)
class HopSpread:
    """One hop across the network: each participant's switch, and the spread from the first to the last."""

    hop: int
    old_version: str
    new_version: str
    switch_ms: int
    switch_height: int | None
    switches: tuple[ParticipantSwitch, ...]

    @property
    def seen(self) -> list[ParticipantSwitch]:
        return sorted((s for s in self.switches if s.first_ms is not None), key=lambda s: (s.first_ms, s.participant))

    @property
    def never(self) -> list[str]:
        return [s.participant for s in self.switches if s.first_ms is None]

    @property
    def spread_ms(self) -> int | None:
        """Last participant's switch minus the first's; None unless every participant was seen on the new version."""
        seen = self.seen
        if self.never or not seen:
            return None
        return seen[-1].first_ms - seen[0].first_ms  # type: ignore[operator]

    def describe(self) -> str:
        at = f"block {self.switch_height}" if self.switch_height is not None else f"{self.switch_ms} ms"
        head = f"hop {self.old_version} -> {self.new_version} (switch at {at}): "
        seen = self.seen
        if not seen:
            return head + "no participant was seen on the new version"
        first, last = seen[0], seen[-1]
        text = f"first {first.participant} ({first.short()}), last {last.participant} ({last.short()})"
        if self.never:
            return head + f"{text}; never switched: {', '.join(self.never)}"
        return head + f"spread {self.spread_ms} ms, {text}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "hop": self.hop,
            "old_version": self.old_version,
            "new_version": self.new_version,
            "switch_ms": self.switch_ms,
            "switch_height": self.switch_height,
            "spread_ms": self.spread_ms,
            "first": self.seen[0].participant if self.seen else None,
            "last": self.seen[-1].participant if self.seen else None,
            "never": self.never,
            "participants": [s.to_dict() for s in self.switches],
        }


@dataclass(frozen=True, slots=True)
class ParticipantRow:
    """One participant over the whole audited range."""

    participant: str
    nodes: tuple[str, ...]
    requests: int
    offenders: int
    first_offender: Offender | None
    unserved: int  # requests its MLNodes had no mapping for (unmatched in the journal)
    first_unserved: RequestRecord | None

    @property
    def verdict(self) -> str:
        return "fail" if self.offenders else "pass"

    def unserved_text(self) -> str:
        r = self.first_unserved
        if r is None:
            return ""
        return (
            f"{self.unserved} requests found no answer on its MLNodes (not deployed there?), first {r.method} {r.url} "
            f"on {r.mock_id} at {r.logged_ms} ms"
        )

    def to_dict(self) -> dict[str, Any]:
        r = self.first_unserved
        return {
            "participant": self.participant,
            "nodes": list(self.nodes),
            "verdict": self.verdict,
            "requests": self.requests,
            "offenders": self.offenders,
            "first_offender": self.first_offender.to_dict() if self.first_offender else None,
            "unserved": self.unserved,
            "first_unserved": None
            if r is None
            else {"method": r.method, "url": r.url, "mock": r.mock_id, "logged_ms": r.logged_ms, "version_seen": r.version_seen},
        }


@dataclass(frozen=True, slots=True)
class NetworkView:
    rows: tuple[ParticipantRow, ...]
    hops: tuple[HopSpread, ...]
    broken_by: str | None  # the participant of the first offender in time
    breaking: Offender | None  # that offender: the request that broke atomicity (or the stop that never came)

    @property
    def verdict(self) -> str:
        return "broken" if self.breaking is not None else "atomic"

    def headline(self) -> str:
        n = len(self.rows)
        if self.breaking is None:
            return f"network of {n} participants: ATOMIC (no participant has an offending request)"
        return f"network of {n} participants: BROKEN by {self.broken_by}: {self.breaking}"

    def row(self, participant: str) -> ParticipantRow:
        for r in self.rows:
            if r.participant == participant:
                return r
        raise KeyError(participant)

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "broken_by": self.broken_by,
            "breaking_request": self.breaking.to_dict() if self.breaking else None,
            "participants": [r.to_dict() for r in self.rows],
            "hops": [h.to_dict() for h in self.hops],
        }


def check_participants(participants: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
    """{participant: node ids}, each node in one participant only; ConfigError naming the problem otherwise."""
    if not isinstance(participants, Mapping) or not participants:
        raise ConfigError(f"participants: expected a mapping participant id -> MLNode ids, got {participants!r}")
    owner: dict[str, str] = {}
    out: dict[str, tuple[str, ...]] = {}
    for pid, nodes in participants.items():
        if not isinstance(pid, str) or not pid:
            raise ConfigError(f"participants: participant id {pid!r} is not a non-empty string")
        if isinstance(nodes, str) or not isinstance(nodes, Sequence) or not all(isinstance(n, str) for n in nodes):
            raise ConfigError(f"participants[{pid!r}]: expected a list of MLNode ids, got {nodes!r}")
        for n in nodes:
            if n in owner:
                raise ConfigError(f"participants: MLNode {n!r} is listed under both {owner[n]!r} and {pid!r}")
            owner[n] = pid
        out[pid] = tuple(nodes)
    return out


def network_view(
    participants: Mapping[str, Sequence[str]],
    *,
    records: Sequence[RequestRecord],
    offenders: Sequence[Offender],
    switches_seen: Sequence[SwitchSeen],
    timeline: SwitchTimeline,
) -> NetworkView:
    parts = check_participants(participants)
    owner = {n: pid for pid, nodes in parts.items() for n in nodes}
    requests = dict.fromkeys(parts, 0)
    unserved = dict.fromkeys(parts, 0)
    first_unserved: dict[str, RequestRecord] = {}
    for r in records:  # sorted by time
        pid = owner.get(r.node_key)
        if pid is None:
            continue
        requests[pid] += 1
        if r.matched is False:
            unserved[pid] += 1
            first_unserved.setdefault(pid, r)
    by_part: dict[str, list[Offender]] = {pid: [] for pid in parts}
    for o in offenders:  # sorted by time; missing stops last
        pid = owner.get(o.node or "")
        if pid is not None:
            by_part[pid].append(o)
    rows = tuple(
        ParticipantRow(
            pid, nodes, requests[pid], len(by_part[pid]), next(iter(by_part[pid]), None), unserved[pid], first_unserved.get(pid)
        )
        for pid, nodes in parts.items()
    )
    breaking = next((o for o in offenders if owner.get(o.node or "") is not None), None)
    return NetworkView(
        rows=rows,
        hops=_hops(parts, owner, switches_seen, timeline),
        broken_by=owner[breaking.node] if breaking is not None and breaking.node else None,
        breaking=breaking,
    )


def _hops(
    parts: Mapping[str, Sequence[str]], owner: Mapping[str, str], switches_seen: Sequence[SwitchSeen], timeline: SwitchTimeline
) -> tuple[HopSpread, ...]:
    out = []
    versions = timeline.versions
    for hop in range(1, len(timeline.switches)):
        s = timeline.switches[hop]
        seen = [x for x in switches_seen if x.hop == hop]
        switch_height = next((x.switch_height for x in seen), None)
        rows = []
        for pid in parts:
            ours = [x for x in seen if owner.get(x.node) == pid]
            stops = [x.stop_delay_ms for x in ours if x.stop_delay_ms is not None]
            stop = min(stops) if stops else None
            first = min((x for x in ours if x.first_ms is not None), key=lambda x: (x.first_ms, x.node), default=None)
            if first is None:
                rows.append(ParticipantSwitch(hop, s.version, pid, None, None, None, switch_height, None, stop))
            else:
                rows.append(ParticipantSwitch(hop, s.version, pid, first.first_ms, first.delay_ms, first.latest_height,
                                              first.switch_height, first.node, stop))  # fmt: skip
        out.append(HopSpread(hop, versions[hop - 1], s.version, s.from_ms, switch_height, tuple(rows)))
    return tuple(out)


def network_lines(view: NetworkView, table: Callable[[list[list[str]], list[str]], list[str]]) -> list[str]:
    """The text report's network section (`table(rows, header)` formats the columns)."""
    lines = [view.headline()]
    lines += ["  " + h.describe() for h in view.hops]
    header = ["participant", "mlnodes", *(f"switch to {h.new_version}" for h in view.hops), "requests", "offenders",
              "unserved", "verdict"]  # fmt: skip
    rows = []
    for r in view.rows:
        switches = [next(s.short() for s in h.switches if s.participant == r.participant) for h in view.hops]
        rows.append([r.participant, ",".join(r.nodes), *switches, str(r.requests), str(r.offenders), str(r.unserved),
                     r.verdict.upper()])  # fmt: skip
    lines += ["  " + line for line in table(rows, header)]
    for r in view.rows:
        if r.first_offender is not None:
            lines.append(f"  {r.participant}: first offender {r.first_offender}")
        if r.unserved:
            lines.append(f"  {r.participant}: {r.unserved_text()}")
    return lines
