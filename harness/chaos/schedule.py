"""The fault table: installed faults, their counters, the block height, and the seeded decisions.

Replay rule: the proxy has one decision PRNG, `random.Random(seed)`. For every event (connection accepted,
idle expiry, request, websocket check) it walks the installed faults of that event's stage in id order and
draws exactly one number for each of them, whether or not the fault's target or window matches. A fault
applies when its filters match, its `nth` count is reached, its window is live and the draw is below its
probability (no probability = always). So the same seed, the same installed faults and the same event
sequence give the same decisions. `reset()` reseeds the PRNG and restarts fault ids at 1.
Each fault also gets its own PRNG (`random.Random(f"{seed}/{fault_id}")`) for its parameters (latency jitter).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any

from harness.chaos.faults import Fault, FaultSpec, Stage
from harness.chaos.history import Decision
from harness.chaos.targets import FaultEvent, FaultWindowSpec, Target
from harness.errors import ConfigError
from harness.validate import MAX_INT64

MAX_FAULTS = 1000


def now_ms() -> float:
    return time.time() * 1000.0


@dataclass
class InstalledFault:
    id: int
    spec: FaultSpec
    added_ms: float
    first_conn_id: int  # the next connection id when the fault was added (for target.nth_connection)
    rng: random.Random
    seen: int = 0  # events that passed the filters (for target.nth)
    applied: int = 0
    last_applied_ms: float | None = None
    removed_ms: float | None = None
    judged_idle: set[int] = field(default_factory=set)

    @property
    def fault(self) -> Fault:
        return self.spec.fault

    def state(self, now: float, height: int | None) -> str:
        w = self.spec.window
        if w.ended(now, self.added_ms, height, self.applied):
            return "ended"
        return "active" if w.live(now, self.added_ms, height, self.applied) else "pending"

    def to_json(self, now: float, height: int | None) -> dict[str, Any]:
        end = self.spec.window.end_unix(self.added_ms)
        return {
            "id": self.id,
            **self.spec.to_json(),
            "state": self.state(now, height),
            "applied": self.applied,
            "added_ms": self.added_ms,
            "last_applied_ms": self.last_applied_ms,
            "end_unix_ms": end,
        }


class FaultTable:
    def __init__(self, seed: int) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ConfigError(f"seed: got {seed!r}, expected an integer")
        self.seed = seed
        self.rng = random.Random(seed)
        self.faults: dict[int, InstalledFault] = {}
        self.height: int | None = None
        self.event_seq = 0
        self._next_id = 1

    def add(self, spec: FaultSpec, next_conn_id: int) -> InstalledFault:
        if len(self.faults) >= MAX_FAULTS:
            raise ConfigError(f"faults: {MAX_FAULTS} installed already, the proxy's limit; remove some first")
        spec.window.check_against(now_ms(), self.height)
        fid = self._next_id
        self._next_id += 1
        inst = InstalledFault(fid, spec, now_ms(), next_conn_id, random.Random(f"{self.seed}/{fid}"))
        self.faults[fid] = inst
        return inst

    def remove(self, fault_id: int) -> bool:
        return self.faults.pop(fault_id, None) is not None

    def clear(self) -> None:
        self.faults.clear()

    def reset(self) -> None:
        self.faults.clear()
        self.rng = random.Random(self.seed)
        self.event_seq = 0
        self._next_id = 1
        self.height = None

    def set_height(self, height: int) -> bool:
        """Raise the known height (never lowers it). True if it changed. Heights past int64 are ignored."""
        if isinstance(height, bool) or not isinstance(height, int) or not 0 <= height <= MAX_INT64:
            return False
        if self.height is None or height > self.height:
            self.height = height
            return True
        return False

    def live(self, fault_id: int) -> bool:
        f = self.faults.get(fault_id)
        return f is not None and f.spec.window.live(now_ms(), f.added_ms, self.height, f.applied)

    def decide(self, stage: Stage, event: FaultEvent) -> tuple[list[InstalledFault], list[Decision]]:
        """Judge one event; return the faults to apply (in id order) and the decisions drawn."""
        self.event_seq += 1
        now = now_ms()
        chosen: list[InstalledFault] = []
        decisions: list[Decision] = []
        for f in sorted(self.faults.values(), key=lambda f: f.id):
            if f.fault.stage != stage:
                continue
            draw = self.rng.random()
            applies = self._applies(f, event, draw, now)
            if applies:
                f.applied += 1
                f.last_applied_ms = now
                chosen.append(f)
            decisions.append(
                Decision(self.event_seq, str(stage), event.conn_id, event.methods, f.id, f.fault.name, draw, applies)
            )
        return chosen, decisions

    def _applies(self, f: InstalledFault, event: FaultEvent, draw: float, now: float) -> bool:
        target: Target = f.spec.target
        if not target.filters_match(event, f.first_conn_id):
            return False
        if f.fault.stage == Stage.IDLE:
            idle_ms = getattr(f.fault, "idle_ms", 0.0)
            if event.idle_ms < idle_ms or event.conn_id in f.judged_idle:
                return False
            f.judged_idle.add(event.conn_id)  # judged once per idle period (see idle_reset)
        f.seen += 1
        if target.nth is not None and f.seen != target.nth:
            return False
        window: FaultWindowSpec = f.spec.window
        if not window.live(now, f.added_ms, self.height, f.applied):
            return False
        return target.probability is None or draw < target.probability

    def idle_reset(self, conn_id: int) -> None:
        """A connection carried a request: its next idle period is judged afresh."""
        for f in self.faults.values():
            f.judged_idle.discard(conn_id)

    def idle_threshold_ms(self, conn_id: int) -> float | None:
        """The shortest idle_ms among close_idle faults that are live and may hit this connection."""
        now = now_ms()
        best: float | None = None
        for f in self.faults.values():
            if f.fault.stage != Stage.IDLE or conn_id in f.judged_idle:
                continue
            if not f.spec.target.filters_match(FaultEvent("connection", conn_id), f.first_conn_id):
                continue
            if not f.spec.window.live(now, f.added_ms, self.height, f.applied):
                continue
            idle_ms = float(getattr(f.fault, "idle_ms", 0.0))
            best = idle_ms if best is None else min(best, idle_ms)
        return best

    def wakeups_ms(self) -> list[float]:
        """Future unix times at which some window starts or ends (the proxy re-checks idle and websocket state then)."""
        now = now_ms()
        out = []
        for f in self.faults.values():
            for t in (f.spec.window.start_unix(f.added_ms), f.spec.window.end_unix(f.added_ms)):
                if now < t < float("inf"):
                    out.append(t)
        return out

    def last_fault_end_ms(self) -> float | None:
        """When the last fault stopped acting: the latest of each fault's last application (None if none applied)."""
        times = [f.last_applied_ms for f in self.faults.values() if f.last_applied_ms is not None]
        return max(times) if times else None

    def to_json(self) -> list[dict[str, Any]]:
        now = now_ms()
        return [f.to_json(now, self.height) for f in sorted(self.faults.values(), key=lambda f: f.id)]
