"""What an audit finds: the verdict words (words.py), one offender, a stop-rule outcome, an observed switch, the report.
Plain data; the rules that produce them are in verdict.py, their renderings in report.py and png.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.audit.contracts import SwitchContract
from harness.audit.records import RequestRecord
from harness.audit.render import report_dict, report_json, report_text
from harness.audit.timeline import SwitchTimeline
from harness.audit.words import VERDICTS
from harness.util.fastinit import fast_constructor

if TYPE_CHECKING:
    from harness.audit.basis import HopTiming
    from harness.audit.lifecycle import SwitchOrder
    from harness.audit.network import NetworkView

STOP_ENDPOINT = "/api/v1/stop"


def zero_counts() -> dict[str, int]:
    """{verdict: 0} for every request verdict."""
    return dict.fromkeys(VERDICTS, 0)


@dataclass(frozen=True, slots=True)
class Offender:
    verdict: str  # late | stale | early | unversioned | unknown_version | missing_stop | refused
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

    def sort_key(self) -> tuple[Any, ...]:
        return (self.logged_ms is None, self.logged_ms or 0, self.mock_id or "", self.node or "", self.request_id, self.url)

    def to_dict(self) -> dict[str, Any]:
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


new_offender = fast_constructor(Offender)  # Offender(...) in a third of the time; an audit may make 10^5+ of them


@dataclass(frozen=True, slots=True)
class StopCheck:
    """The stop rule's outcome for one node and one hop."""

    hop: int  # index of the switch in the timeline (>= 1)
    old_version: str
    node: str
    status: str  # ok | late | missing | not_due
    stop_ms: int | None
    repeated: int

    def to_dict(self) -> dict[str, Any]:
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
    latest_height: int | None  # the latest block the node had when it showed its switch (first request on V or stop)
    switch_height: int | None  # the block whose processing had to switch the node (the timeline's block at S)
    stop_delay_ms: int | None = None  # its old-version stop minus the switch time (None: no stop after the switch)

    @property
    def blocks_after(self) -> int | None:
        """How many blocks after the switch block the node showed its switch (0: in time): where its first request on
        the new version or its old-version stop fell, whichever came first."""
        if self.latest_height is None or self.switch_height is None:
            return None
        return self.latest_height - self.switch_height

    def describe(self) -> str:
        if self.first_ms is None:
            return f"{self.node}: never used {self.new_version} (or a later version)"
        where = f", latest block {self.latest_height}" if self.latest_height is not None else ""
        late = self.blocks_after
        blocks = "" if not late else f" ({abs(late)} block{'s' if abs(late) > 1 else ''} {'after' if late > 0 else 'before'})"
        stop = f", old-version stop {self.stop_delay_ms:+d} ms" if self.stop_delay_ms is not None else ""
        return f"{self.node}: first {self.new_version} request {self.delay_ms:+d} ms from S{where}{blocks}{stop}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "hop": self.hop,
            "new_version": self.new_version,
            "node": self.node,
            "first_ms": self.first_ms,
            "delay_ms": self.delay_ms,
            "latest_height": self.latest_height,
            "switch_height": self.switch_height,
            "blocks_after": self.blocks_after,
            "stop_delay_ms": self.stop_delay_ms,
        }


@dataclass
class AuditReport:
    timeline: SwitchTimeline
    contract: SwitchContract
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
    # the clock each participant's hops were judged by (harness/audit/basis.py); empty: the timeline's header times
    timing: list[HopTiming] = field(default_factory=list)
    # per hop and node: the order it stopped the old version and brought the new one up, and the gap (lifecycle.py)
    lifecycle: list[SwitchOrder] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return "fail" if self.offenders else "pass"

    @property
    def passed(self) -> bool:
        return not self.offenders

    @property
    def first_offender(self) -> Offender | None:
        return self.offenders[0] if self.offenders else None

    def to_dict(self) -> dict[str, Any]:
        return report_dict(self)

    def to_json(self, *, indent: int | None = 2) -> str:
        return report_json(self, indent=indent)

    def to_text(self, *, max_offenders: int = 20) -> str:
        return report_text(self, max_offenders=max_offenders)
