"""The MLNode lifecycle across each switch, from the journals alone (pure): in which order a node stopped the old
version and brought the new one up, the user-facing gap that cost, and the lifecycle commands an MLNode refused.

Per hop k (old version O -> new version V) and node, over the node's span of that hop (from the switch S, or from its
first request on V after the previous switch when that came earlier, to the next switch or the end of the audit):

- stop: its first `POST /O/api/v1/stop`; up: its first `POST /V/api/v1/inference/up`, and the first the MLNode
  accepted (2xx); order: `stop, then up` or `up before stop` (also `no stop`, `no up`, `neither`);
- serving: the first moment V served after the stop: an accepted `inference/up` on V or an answered (2xx) chat on V,
  whichever came first at or after the stop (V serving before the stop: the gap is 0);
- gap = serving - stop: how long the node had no serving version (None: no stop, or V never served by the end: then
  `open_gap` is set and the gap runs to the end of the span);
- in the gap: its chat requests the MLNode did not answer with 2xx (any version), and, when the hop's user chats are
  given (`UserChat`: what the users of the node's participant saw), how many of those failed while it lasted.

Refusals (the `refused` offender): a lifecycle command (`inference/up`, `pow/init/*`, `train/start`) an MLNode
answered 409: the API node started a workload while another one (of this version, or, on an exclusive MLNode, of
another version) held the MLNode, instead of stopping it first. Statuses come from the journal (`response.status`;
a WireMock fault such as a connection reset counts as no answer).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.audit.records import RequestRecord
from harness.audit.results import Offender
from harness.audit.timeline import SwitchTimeline

STOP_THEN_UP, UP_BEFORE_STOP, NO_STOP, NO_UP, NEITHER = "stop, then up", "up before stop", "no stop", "no up", "neither"
UP = "/api/v1/inference/up"
STOP = "/api/v1/stop"
CHAT = "/v1/chat/completions"
STARTS_WORKLOAD = (UP, "/api/v1/pow/init/generate", "/api/v1/pow/init/validate", "/api/v1/train/start")


@dataclass(frozen=True, slots=True)
class UserChat:
    """One chat a user sent to a participant's API node ("" on a testnet of one participant) and how it ended."""

    participant: str
    started_ms: int
    ended_ms: int
    ok: bool


@dataclass(frozen=True, slots=True)
class SwitchOrder:
    """How one node went from the old version to the new one in one hop, and what the users saw meanwhile."""

    hop: int
    old_version: str
    new_version: str
    node: str
    order: str  # stop, then up | up before stop | no stop | no up | neither
    stop_ms: int | None
    up_ms: int | None  # the first inference/up on the new version (accepted or not)
    up_ok_ms: int | None  # the first the MLNode accepted
    refused: int  # lifecycle commands on this node the MLNode refused (409) in the hop's span
    serving_ms: int | None  # the new version's first accepted inference/up or answered chat at or after the stop
    gap_ms: int | None  # serving_ms - stop_ms (0: the new version served before the stop); None: no stop or open
    open_gap: bool  # stopped, and the new version had not served by the end of the span
    mlnode_chat_failures: int  # chat requests to this node not answered 2xx during the gap
    user_failed: int | None = None  # the participant's user chats that failed during the gap (None: not observed)
    user_chats: int | None = None  # ... of its user chats that overlapped the gap

    def describe(self) -> str:
        head = f"{self.node} {self.old_version} -> {self.new_version}: {self.order}"
        parts = []
        if self.stop_ms is not None and self.up_ms is not None:
            parts.append(f"inference/up {self.up_ms - self.stop_ms:+d} ms from the stop")
        if self.refused:
            parts.append(f"{self.refused} lifecycle command(s) refused (409)")
        if self.gap_ms is not None:
            parts.append(f"gap {self.gap_ms} ms")
        elif self.open_gap:
            parts.append(f"gap still open: {self.new_version} never served after the stop")
        if self.gap_ms is not None or self.open_gap:
            users = "user chats not observed" if self.user_failed is None else (
                f"{self.user_failed} of {self.user_chats} user chats failed in it")  # fmt: skip
            parts.append(f"{self.mlnode_chat_failures} MLNode chat answers failed in it, {users}")
        return head + ("; " + "; ".join(parts) if parts else "")

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__}


def chats_by_node(
    user_chats: Sequence[UserChat] | None, participants: Mapping[str, Sequence[str]] | None, nodes: Sequence[str]
) -> dict[str, list[UserChat]] | None:
    """{node: its participant's user chats}: `participants` ({participant: its nodes}) for a network, else every
    chat (participant "") belongs to every node. None: no user chats were given."""
    if user_chats is None:
        return None
    owner = {n: p for p, ns in (participants or {}).items() for n in ns}
    return {n: [c for c in user_chats if c.participant == owner.get(n, "")] for n in nodes}


def _ok(r: RequestRecord) -> bool:
    return r.status is not None and 200 <= r.status < 300


def switch_orders(
    recs: Sequence[RequestRecord],
    timeline: SwitchTimeline,
    nodes: Sequence[str] | None,
    *,
    end_ms: int | None,
    user_chats: Mapping[str, Sequence[UserChat]] | None = None,
) -> list[SwitchOrder]:
    """Per hop and node (`nodes`, None: every node seen), the order and the gap. `user_chats`: {node: the user chats
    of its participant}; None when the users' side was not observed. Records in time order."""
    by_node: dict[str, list[RequestRecord]] = {}
    for r in recs:
        by_node.setdefault(r.node_key, []).append(r)
    switches = timeline.switches
    out = []
    for k in range(1, len(switches)):
        old, new = switches[k - 1].version, switches[k].version
        prev_ms = switches[k - 1].from_ms
        span_end = switches[k + 1].from_ms if k + 1 < len(switches) else math.inf
        for node in sorted(by_node if nodes is None else nodes):
            mine = by_node.get(node, [])
            first_new = next((r.logged_ms for r in mine if prev_ms <= r.logged_ms < span_end and r.version_seen == new), None)
            start = min(switches[k].from_ms, first_new if first_new is not None else math.inf)
            span = [r for r in mine if start <= r.logged_ms < span_end]
            chats = None if user_chats is None else user_chats.get(node, ())
            out.append(_order(k, old, new, node, span, end_ms if span_end == math.inf else span_end, chats))
    return out


def _order(
    k: int, old: str, new: str, node: str, span: list[RequestRecord], end: float | None, chats: Sequence[UserChat] | None
) -> SwitchOrder:
    def first(pred: Callable[[RequestRecord], bool]) -> int | None:
        return next((r.logged_ms for r in span if pred(r)), None)

    stop = first(lambda r: r.method == "POST" and r.version_seen == old and r.endpoint == STOP)
    up = first(lambda r: r.method == "POST" and r.version_seen == new and r.endpoint == UP)
    up_ok = first(lambda r: r.method == "POST" and r.version_seen == new and r.endpoint == UP and _ok(r))
    refused = sum(1 for r in span if r.method == "POST" and r.endpoint in STARTS_WORKLOAD and r.status == 409)
    order = _order_of(stop, up)
    serving = gap = None
    open_gap = False
    failed_mlnode = 0
    failed_users = seen_users = None
    if stop is not None:
        served = [r.logged_ms for r in span if r.version_seen == new and _ok(r) and r.endpoint in (UP, CHAT)]
        before = [t for t in served if t < stop]
        after = [t for t in served if t >= stop]
        serving = after[0] if after else None
        gap = 0 if before else (serving - stop if serving is not None else None)
        open_gap = not before and serving is None
        gap_end = stop + (gap or 0) if not open_gap else (end if end is not None else math.inf)
        failed_mlnode = sum(1 for r in span if r.endpoint == CHAT and stop <= r.logged_ms < gap_end and not _ok(r))
        if chats is not None:
            inside = [c for c in chats if c.started_ms < gap_end and c.ended_ms >= stop] if gap_end > stop else []
            seen_users, failed_users = len(inside), sum(1 for c in inside if not c.ok)
    return SwitchOrder(k, old, new, node, order, stop, up, up_ok, refused, serving, gap, open_gap, failed_mlnode,
                       failed_users, seen_users)  # fmt: skip


def _order_of(stop: int | None, up: int | None) -> str:
    if stop is not None and up is not None:
        return STOP_THEN_UP if stop <= up else UP_BEFORE_STOP
    if stop is None and up is None:
        return NEITHER
    return NO_UP if up is None else NO_STOP


def refusals(
    recs: Sequence[RequestRecord], timeline: SwitchTimeline, bracket: Callable[[int], tuple[int | None, int | None]]
) -> list[Offender]:
    """A `refused` offender per lifecycle command an MLNode answered 409."""
    starts = [s.from_ms for s in timeline.switches]
    out = []
    for r in recs:
        if r.status == 409 and r.method == "POST" and r.endpoint in STARTS_WORKLOAD:
            out.append(
                Offender(
                    verdict="refused",
                    method=r.method,
                    url=r.url,
                    logged_ms=r.logged_ms,
                    expected_version=timeline.switches[max(0, bisect.bisect_right(starts, r.logged_ms) - 1)].version,
                    seen_version=r.version_seen,
                    mock_id=r.mock_id,
                    node=r.node_key,
                    port_class=r.port_class,
                    height_bracket=bracket(r.logged_ms),
                    reason="the MLNode refused it (409): a workload held the MLNode; stop it first",
                    served_by_version=r.served_by_version,
                    request_id=r.request_id,
                )
            )
    return out
