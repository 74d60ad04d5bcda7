"""The clock each participant's switch is judged by (the contract says what the times mean: contracts.py). Pure.

    clock = participant_clock("p1", ["mlnode-1"], chain_timeline, contract, deliveries, holds)
    audit(records, chain_timeline, contract, clocks=[clock, ...])

`chain_timeline` is the hop runner's: each switch at the header time of block B = H + switch_offset. For every hop
a participant gets the **delivery** clock when its chaos proxy handed its API node NewBlock(B) on a websocket session
that began before block B was made (so the node learned B from that event, not from a catch-up query after it
(re)connected) and some NewBlock after B since: S = D(B), D = max(D(B+1), S + refresh_grace_ms), U = D + inflight_ms
(proxy times rounded down to the millisecond, as WireMock logs requests). Otherwise (no proxy, or the API node was
down or reconnecting when B came) it gets the **chain** clock: S = the header time of B, D = U = S + grace_ms.
`HopTiming` records which, and why, for every report; `ParticipantClock.delivered` places a participant's switch
among the blocks its API node had received.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from harness.audit.contracts import SwitchContract
from harness.audit.timeline import Switch, SwitchTimeline

DELIVERY, CHAIN = "delivery", "chain"


@dataclass(frozen=True, slots=True)
class Delivered:
    """NewBlock(height) reached the participant's API node at `ms` (unix ms) on proxy connection `conn_id`."""

    height: int
    ms: float
    conn_id: int
    session_ms: float = 0.0  # when the websocket session that carried it began


@dataclass(frozen=True, slots=True)
class HoldOutcome:
    """A delivery the proxy held back: how long NewBlock(height) waited and how the wait ended."""

    height: int
    held_ms: int | None  # None: it was never held (it came after the hold had run out, or its block before never came)
    outcome: str  # released | expired | not_held | armed | holding
    reason: str = ""

    def describe(self) -> str:
        if self.held_ms is None:
            return f"block {self.height} not held ({self.outcome})"
        why = f": {self.reason}" if self.reason else ""
        return f"block {self.height} held {self.held_ms} ms ({self.outcome}{why})"


@dataclass(frozen=True, slots=True)
class HopTiming:
    """One participant's clock for one hop, and the evidence behind it."""

    participant: str
    hop: int
    version: str
    upgrade_height: int | None
    switch_height: int | None  # B
    basis: str  # delivery | chain
    from_ms: int  # S
    due_ms: int  # D
    until_ms: int  # U
    delivered_ms: tuple[tuple[int, int], ...] = ()  # (height, ms) of B-1, B and the first block after B that came
    holds: tuple[HoldOutcome, ...] = ()
    note: str = ""  # why this basis
    nodes: tuple[str, ...] = ()  # the participant's MLNodes this clock judges

    def delivered(self, height: int) -> int | None:
        """When NewBlock(height) reached the participant's API node (for B-1, B and the block after B), if it did."""
        return next((ms for h, ms in self.delivered_ms if h == height), None)

    def describe(self) -> str:
        head = f"{self.participant} {self.version} (block {self.switch_height}): {self.basis} clock"
        if self.basis == CHAIN:
            b = self.switch_height
            after = f"block {b} reached its API node" if b is not None and self.delivered(b) else f"block {b}'s header time"
            return f"{head}, switch due {self.due_ms - self.from_ms} ms after {after}" + (f" ({self.note})" if self.note else "")
        held = "; ".join(h.describe() for h in self.holds)
        return f"{head}, switch due {self.due_ms - self.from_ms} ms after block {self.switch_height} reached its API node" + (
            f"; {held}" if held else ""
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["delivered_ms"] = [list(p) for p in self.delivered_ms]
        d["holds"] = [asdict(h) for h in self.holds]
        return d


@dataclass(frozen=True)
class ParticipantClock:
    """The timeline a participant's MLNodes are judged by, and how each of its hops was timed."""

    participant: str
    nodes: tuple[str, ...]
    timeline: SwitchTimeline
    timing: tuple[HopTiming, ...]
    delivered: tuple[tuple[int, int], ...] = ()  # (height, ms) of every block its API node received, by height


def participant_clock(
    participant: str,
    nodes: Sequence[str],
    chain: SwitchTimeline,
    contract: SwitchContract,
    deliveries: Iterable[Delivered] | None,
    holds: Iterable[HoldOutcome] = (),
) -> ParticipantClock:
    """The participant's timeline: each hop on the delivery clock where its deliveries allow, else the chain's.
    `deliveries` None: no proxy fronts its API node."""
    by_height = {d.height: d for d in sorted(deliveries or (), key=lambda d: d.ms, reverse=True)}  # first per height
    heights = sorted(by_height)
    held = {h.height: h for h in holds}
    switches: list[Switch] = [chain.switches[0]]
    timing: list[HopTiming] = []
    for k, s in enumerate(chain.switches[1:], start=1):
        t = _hop_timing(participant, k, s, contract, by_height, heights, held, proxied=deliveries is not None)
        floor = switches[-1].from_ms + 1  # a timeline's switches are strictly increasing
        if t.from_ms < floor:
            t = _chain_timing(participant, k, s, contract, f"block {t.switch_height} reached it before the previous switch")
        t = replace(t, nodes=tuple(nodes))
        switches.append(Switch(s.version, t.from_ms, s.height, t.due_ms, t.until_ms))
        timing.append(t)
    delivered = tuple((h, int(by_height[h].ms)) for h in heights)
    return ParticipantClock(participant, tuple(nodes), SwitchTimeline(switches), tuple(timing), delivered)


def _hop_timing(
    participant: str,
    k: int,
    s: Switch,
    contract: SwitchContract,
    by_height: dict[int, Delivered],
    heights: list[int],
    held: dict[int, HoldOutcome],
    *,
    proxied: bool,
) -> HopTiming:
    b = None if s.height is None else contract.switch_block(s.height)
    if not proxied:
        return _chain_timing(participant, k, s, contract, "no proxy fronts its API node")
    if b is None:
        return _chain_timing(participant, k, s, contract, "the switch has no height")
    before, at = by_height.get(b - 1), by_height.get(b)
    after = next((by_height[h] for h in heights if h > b), None)
    if at is None:
        return _chain_timing(participant, k, s, contract, f"NewBlock({b}) never reached its API node")
    if at.session_ms > s.from_ms:
        return _chain_timing(participant, k, s, contract, f"its API node (re)subscribed after block {b} was made")
    if after is None:  # it went away after B (stopped, killed): the grace counts from when B reached it, as S does
        t = _chain_timing(participant, k, s, contract, f"no block after {b} reached its API node; S when block {b} did")
        start = max(int(at.ms), s.from_ms)  # a held delivery comes long after the header time
        delivered = tuple((d.height, int(d.ms)) for d in (before, at) if d is not None)
        return replace(t, from_ms=start, due_ms=start + contract.grace_ms, until_ms=start + contract.grace_ms,
                       delivered_ms=delivered, holds=tuple(held[h] for h in (b, b + 1) if h in held))  # fmt: skip
    start = int(at.ms)
    due = max(int(after.ms), start + contract.refresh_grace_ms)
    return HopTiming(
        participant, k, s.version, s.height, b, DELIVERY, start, due, due + contract.inflight_ms,
        delivered_ms=tuple((d.height, int(d.ms)) for d in (before, at, after) if d is not None),
        holds=tuple(held[h] for h in (b, b + 1) if h in held),
    )  # fmt: skip


def _chain_timing(participant: str, k: int, s: Switch, contract: SwitchContract, note: str) -> HopTiming:
    b = None if s.height is None else contract.switch_block(s.height)
    due = s.from_ms + contract.grace_ms
    return HopTiming(participant, k, s.version, s.height, b, CHAIN, s.from_ms, due, due, note=note)
