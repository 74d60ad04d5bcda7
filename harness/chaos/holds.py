"""When each NewBlock event reached the API node, and block deliveries held back on purpose: the clock the switch
verdict is timed by (harness/audit/basis.py).

The proxy relays the API node's websocket, so it knows when NewBlock(h) was *delivered*: the moment its last byte
was handed to the API node's connection. `deliveries` keeps the first delivery of each height (time and
connection). A *hold* keeps NewBlock(h), and every data message behind it on that connection, from the API node
until the harness releases it or `max_ms` after NewBlock(h-1) was delivered, whichever comes first:

    gate.arm(h, max_ms)      hold NewBlock(h) (from its arrival) until released or until D(h-1) + max_ms (armed
                             again while held: the longer bound stays)
    gate.release(h, why)     deliver it now (idempotent); `why` is kept ("switch seen on every MLNode")
    gate.deliveries(lo, hi)  [Delivery(height, ms, conn_id), ...]
    gate.holds()             each hold: armed, held from, delivered at, how it ended (released, expired, ...)

A hold applies only to a height whose predecessor was delivered by this proxy: an API node that was down or
reconnecting when h-1 came gets h at once (there is no "block before" to time the hold from). A hold never lasts
beyond MAX_HOLD_MS. Pings and pongs are not held (the websocket stays alive); a close frame waits in line.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import asdict, dataclass

from harness.chaos.schedule import now_ms
from harness.errors import ConfigError
from harness.validate import as_height

MAX_HOLD_MS = 120_000  # no delivery is held longer than this, whatever max_ms says
MAX_HOLDS = 64  # holds armed at once
MAX_DELIVERIES = 20_000  # heights whose first delivery is remembered (the newest)


@dataclass(frozen=True, slots=True)
class Delivery:
    height: int
    ms: float  # unix ms at which the API node was handed the NewBlock event
    conn_id: int  # the proxy connection (websocket session) it went out on
    session_ms: float = 0.0  # when that websocket session began (the API node subscribed)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> Delivery:
        return cls(int(d["height"]), float(d["ms"]), int(d["conn_id"]), float(d.get("session_ms", 0.0)))


@dataclass
class Hold:
    height: int
    max_ms: float
    armed_ms: float
    held_from_ms: float | None = None  # when NewBlock(height) arrived from the chain and was kept back
    delivered_ms: float | None = None
    released_ms: float | None = None  # when the harness released it (it may not have arrived yet)
    reason: str = ""  # what the release said
    outcome: str = "armed"  # armed | holding | released (by the harness) | expired (max_ms ran out) | not_held

    def deadline_ms(self, previous: Delivery | None) -> float | None:
        """When the hold runs out: max_ms after NewBlock(height-1) was delivered; None when that never happened."""
        if previous is None:
            return None
        return previous.ms + min(self.max_ms, MAX_HOLD_MS)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> Hold:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


class DeliveryGate:
    """Deliveries and holds of one proxy. Event-loop only; `changed` wakes the websocket pumps when a hold ends."""

    def __init__(self) -> None:
        self._deliveries: OrderedDict[int, Delivery] = OrderedDict()
        self._holds: dict[int, Hold] = {}
        self._changed: asyncio.Future[None] | None = None

    # -- the pumps (event loop) -------------------------------------------------------------------------------------
    @property
    def changed(self) -> asyncio.Future[None]:
        if self._changed is None or self._changed.done():
            self._changed = asyncio.get_running_loop().create_future()
        return self._changed

    def _notify(self) -> None:
        if self._changed is not None and not self._changed.done():
            self._changed.set_result(None)

    def wait_ms(self, height: int | None, now: float) -> float | None:
        """How long a message of this height must still wait: 0 to deliver it now, None to wait for a release only."""
        hold = self._holds.get(height) if height is not None else None
        if hold is None or hold.outcome in ("released", "expired", "not_held") or hold.delivered_ms is not None:
            return 0.0
        deadline = hold.deadline_ms(self._deliveries.get(height - 1))  # type: ignore[operator]
        if deadline is None:
            return 0.0
        if hold.held_from_ms is None:
            hold.held_from_ms = now
            hold.outcome = "holding" if deadline > now else "not_held"
        if now >= deadline:
            if hold.outcome == "holding":
                hold.outcome = "expired"
            return 0.0
        return deadline - now

    def delivered(self, height: int, conn_id: int, now: float | None = None, session_ms: float = 0.0) -> None:
        """NewBlock(height) was handed to the API node on connection conn_id (a websocket session since session_ms)."""
        t = now_ms() if now is None else now
        if height not in self._deliveries:
            self._deliveries[height] = Delivery(height, t, conn_id, session_ms)
            while len(self._deliveries) > MAX_DELIVERIES:
                self._deliveries.popitem(last=False)
        hold = self._holds.get(height)
        if hold is not None and hold.delivered_ms is None:
            hold.delivered_ms = t
            if hold.outcome == "armed":
                hold.outcome = "not_held"

    # -- the control API ----------------------------------------------------------------------------------------------
    def arm(self, height: object, max_ms: object) -> Hold:
        h = as_height(height, "height")
        if isinstance(max_ms, bool) or not isinstance(max_ms, int | float) or not 0 <= max_ms <= MAX_HOLD_MS:
            raise ConfigError(f"max_ms: expected a number of milliseconds from 0 to {MAX_HOLD_MS}, got {max_ms!r}")
        if h in self._deliveries:
            raise ConfigError(f"height: NewBlock({h}) was already delivered; arm a hold before its block exists")
        held = self._holds.get(h)
        if held is not None and held.outcome in ("armed", "holding"):
            # two upgrades hold the same block (adjacent heights: B+1 of one is B of the next): the longer bound stays,
            # and a release by either ends the hold
            held.max_ms = max(held.max_ms, float(max_ms))
            self._notify()
            return held
        if h not in self._holds and len(self._holds) >= MAX_HOLDS:
            for old in [x for x in self.holds() if x.outcome not in ("armed", "holding")][: len(self._holds) - MAX_HOLDS + 1]:
                del self._holds[old.height]  # the oldest holds that are over make room
        if h not in self._holds and len(self._holds) >= MAX_HOLDS:
            raise ConfigError(f"holds: {MAX_HOLDS} are armed already; release them (DELETE /holds) first")
        hold = Hold(h, float(max_ms), now_ms())
        self._holds[h] = hold
        self._notify()
        return hold

    def release(self, height: object, reason: str = "") -> Hold:
        h = as_height(height, "height")
        hold = self._holds.get(h)
        if hold is None:
            raise ConfigError(f"height: no hold is armed at {h} (see GET /holds)")
        if hold.released_ms is None and hold.outcome in ("armed", "holding"):
            hold.released_ms, hold.reason = now_ms(), str(reason)[:200]
            hold.outcome = "released"
        self._notify()
        return hold

    def drop_holds(self) -> None:
        """Release every hold and forget them (deliveries stay)."""
        self._holds.clear()
        self._notify()

    def clear(self) -> None:
        """Release every hold and forget holds and deliveries."""
        self._deliveries.clear()
        self.drop_holds()

    def deliveries(self, lo: int = 0, hi: int | None = None) -> list[Delivery]:
        return [d for h, d in self._deliveries.items() if h >= lo and (hi is None or h <= hi)]

    def holds(self) -> list[Hold]:
        """Every hold, one whose bound has run out before its block went out shown as over: the connection that held
        it may have died with its API node (killed after block B), and no pump is left to deliver it and say so
        (a holding one expired; an armed one, whose block never came while it ran, not held)."""
        now = now_ms()
        for hold in self._holds.values():
            if hold.outcome in ("armed", "holding") and hold.delivered_ms is None:
                deadline = hold.deadline_ms(self._deliveries.get(hold.height - 1))
                if deadline is not None and now >= deadline:
                    hold.outcome = "expired" if hold.outcome == "holding" else "not_held"
        return sorted(self._holds.values(), key=lambda x: x.height)
