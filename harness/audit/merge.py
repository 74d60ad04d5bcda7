"""The audit's clocks: which records each participant's clock judges, and the results of every clock put back
together in the order of the audit's sorted records (verdict.py runs one judging job per clock)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.audit.records import RequestRecord
from harness.audit.results import Offender, StopCheck, SwitchSeen, zero_counts
from harness.audit.timeline import SwitchTimeline
from harness.errors import ConfigError

if TYPE_CHECKING:
    from harness.audit.basis import ParticipantClock


_Group = tuple[SwitchTimeline, "set[str] | None", "list[int] | None", tuple[tuple[int, int], ...]]


def groups(
    recs: list[RequestRecord], timeline: SwitchTimeline, nodes: list[str] | None, clocks: Sequence[ParticipantClock]
) -> list[_Group]:
    """(timeline, node set, record indexes, deliveries) per clock, then the nodes of no clock; indexes None: every
    record."""
    wanted = set(nodes) if nodes is not None else None
    if not clocks:
        return [(timeline, wanted, None, ())]
    owner: dict[str, int] = {}
    for k, clock in enumerate(clocks):
        if len(clock.timeline.versions) != len(timeline.versions):
            raise ConfigError(f"clock of {clock.participant}: {clock.timeline.versions} is not the audit's {timeline.versions}")
        for n in clock.nodes:
            owner[n] = k
    index: list[list[int]] = [[] for _ in range(len(clocks) + 1)]
    for i, r in enumerate(recs):
        index[owner.get(r.node_key, len(clocks))].append(i)
    groups: list[_Group] = [
        (c.timeline, set(c.nodes) if wanted is None else wanted & set(c.nodes), index[k], c.delivered)
        for k, c in enumerate(clocks)
    ]
    rest = None if wanted is None else wanted - set(owner)
    if index[-1] or rest:
        groups.append((timeline, rest, index[-1], ()))
    return groups


@dataclass
class Merged:
    """The clocks' results, put back together (verdicts aligned with the audit's sorted records)."""

    size: int
    verdicts: list[str] = field(default_factory=list)
    offenders: list[Offender] = field(default_factory=list)
    stops: list[StopCheck] = field(default_factory=list)
    seen: list[SwitchSeen] = field(default_factory=list)
    tails: dict[int, int] = field(default_factory=dict)
    expected_stop: set[int] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=zero_counts)
    per_hop: dict[str, dict[str, int]] = field(default_factory=dict)
    per_class: dict[str, dict[str, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.verdicts = [""] * self.size
        self.per_class = {"management": zero_counts(), "inference": zero_counts()}

    def add(self, job: Any, index: list[int] | None, end_ms: int | None, heights: Sequence[tuple[int, int]] | None) -> None:
        resolved = job.resolve_versions()
        first_seen = job.first_seen_on_later(resolved)
        verdicts, offenders, tails = job.judge_requests(resolved, first_seen, job.switched(resolved, first_seen))
        self.stops += job.check_stops(end_ms, offenders)
        self.offenders += offenders
        self.seen += job.switches_seen(first_seen, heights)
        at = range(self.size) if index is None else index
        for j, v in zip(at, verdicts, strict=True):
            self.verdicts[j] = v
        self.expected_stop |= {at[j] for j in job.expected_stop}
        for hop, tail in tails.items():
            self.tails[hop] = max(tail, self.tails.get(hop, tail))
        counts, per_hop, per_class = job.count(verdicts)
        _add_counts(self.counts, counts)
        for version, c in per_hop.items():
            _add_counts(self.per_hop.setdefault(version, zero_counts()), c)
        for port_class, c in per_class.items():
            _add_counts(self.per_class[port_class], c)


def _add_counts(into: dict[str, int], counts: dict[str, int]) -> None:
    for k, n in counts.items():
        into[k] += n
