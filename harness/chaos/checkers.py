"""Checkers over the proxy's history and the API node's observations. Pure functions, no I/O.

`history` arguments accept ProxiedRequest lists, dicts from the control API, or the `GET /history` document.
Only plain chain calls (kind "http") count as calls; websocket sessions and connection events do not.

The API node's pool debug endpoint, `GET /admin/v1/debug/chain-pool`, is expected to answer:

    {"size": 3, "healthy": 3, "replaced": 1, "failures": 4,
     "slots": [{"index": 0, "healthy": true, "generation": 2, "last_error": "post failed: ... EOF"}, ...]}

size = configured slots, healthy = slots that passed their last health check, replaced = slots rebuilt since start,
failures = failed chain calls seen by the pool, generation = how many times that slot was rebuilt (0 = original),
last_error = the slot's last error text or null.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from harness.chaos.history import ProxiedRequest, as_records
from harness.errors import ConfigError


def _calls(history: Any) -> list[ProxiedRequest]:
    return sorted((r for r in as_records(history) if r.kind == "http"), key=lambda r: (r.start_ms, r.seq))


def last_fault_ms(history: Any) -> float | None:
    """End time of the last record a fault was applied to (None if no fault was applied)."""
    times = [r.end_ms if r.end_ms is not None else r.start_ms for r in as_records(history) if r.fault]
    return max(times) if times else None


def time_to_heal_ms(history: Any, last_fault_end_ms: float, *, methods: tuple[str, ...] = ()) -> float | None:
    """Milliseconds from `last_fault_end_ms` to the end of the first successful call after it that starts an unbroken
    run of successes to the end of the history. None if the calls after the fault never settled into successes.
    `methods` restricts the calls considered (any element of a batch)."""
    calls = [r for r in _calls(history) if r.start_ms >= last_fault_end_ms and r.end_ms is not None]
    if methods:
        calls = [r for r in calls if any(m in methods for m in r.methods)]
    healed_at: float | None = None
    for r in calls:
        if r.ok:
            if healed_at is None:
                healed_at = r.end_ms
        elif r.failed:
            healed_at = None
    return None if healed_at is None else max(0.0, healed_at - last_fault_end_ms)


def longest_failure_streak(history: Any) -> int:
    """The most consecutive failed chain calls (in start order) with no success between them."""
    best = run = 0
    for r in _calls(history):
        if r.failed:
            run += 1
            best = max(best, run)
        elif r.ok:
            run = 0
    return best


def hung_calls(history: Any, deadline_ms: float, *, now_ms: float | None = None) -> list[ProxiedRequest]:
    """Calls that took longer than `deadline_ms`, and, given `now_ms`, calls still open past it."""
    out = []
    for r in _calls(history):
        end = r.end_ms if r.end_ms is not None else now_ms
        if end is not None and end - r.start_ms > deadline_ms:
            out.append(r)
    return out


def failed_calls(history: Any) -> list[ProxiedRequest]:
    return [r for r in _calls(history) if r.failed]


def pool_back_to_n(debug_json: Any, n: int) -> bool:
    """True if the pool reports at least `n` healthy slots (both the `healthy` count and the slot list agree)."""
    if not isinstance(debug_json, dict):
        raise ConfigError(f"chain-pool debug JSON: got {type(debug_json).__name__}, expected an object {_POOL_SHAPE}")
    healthy = debug_json.get("healthy")
    slots = debug_json.get("slots")
    if isinstance(healthy, bool) or not isinstance(healthy, int):
        raise ConfigError(f"chain-pool debug JSON: 'healthy' got {healthy!r}, expected an integer; shape {_POOL_SHAPE}")
    if not isinstance(slots, list) or not all(isinstance(s, dict) and "healthy" in s for s in slots):
        raise ConfigError(f"chain-pool debug JSON: 'slots' got {slots!r}, expected a list of slot objects; shape {_POOL_SHAPE}")
    return healthy >= n and sum(1 for s in slots if s["healthy"] is True) >= n


_POOL_SHAPE = '{"size", "healthy", "replaced", "failures", "slots": [{"index", "healthy", "generation", "last_error"}]}'


@dataclass
class ChaosReport:
    """The figures a chaos scenario reports and asserts on."""

    seed: int
    calls: int
    failed: int
    longest_failure_streak: int
    last_fault_end_ms: float | None
    time_to_heal_ms: float | None
    deadline_ms: float
    hung: int
    pool_size: int | None = None
    pool_healthy: int | None = None
    user_failures: int | None = None  # user-facing (inference) failures counted by the scenario
    faults: list[dict[str, Any]] = field(default_factory=list)
    failures_by_outcome: dict[str, int] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        history: Any,
        *,
        seed: int,
        deadline_ms: float,
        last_fault_end_ms: float | None = None,
        pool_debug: dict[str, Any] | None = None,
        user_failures: int | None = None,
        faults: list[dict[str, Any]] | None = None,
    ) -> ChaosReport:
        calls = _calls(history)
        if last_fault_end_ms is None:
            last_fault_end_ms = last_fault_ms(calls)
        heal = None if last_fault_end_ms is None else time_to_heal_ms(calls, last_fault_end_ms)
        by_outcome: dict[str, int] = {}
        for r in calls:
            if r.failed:
                by_outcome[r.outcome] = by_outcome.get(r.outcome, 0) + 1
        return cls(
            seed=seed,
            calls=len(calls),
            failed=sum(by_outcome.values()),
            longest_failure_streak=longest_failure_streak(calls),
            last_fault_end_ms=last_fault_end_ms,
            time_to_heal_ms=heal,
            deadline_ms=deadline_ms,
            hung=len(hung_calls(calls, deadline_ms)),
            pool_size=None if pool_debug is None else pool_debug.get("size"),
            pool_healthy=None if pool_debug is None else pool_debug.get("healthy"),
            user_failures=user_failures,
            faults=list(faults or []),
            failures_by_outcome=by_outcome,
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def to_text(self) -> str:
        heal = "never" if self.time_to_heal_ms is None else f"{self.time_to_heal_ms:.0f} ms"
        if self.last_fault_end_ms is None:
            heal = "n/a (no fault applied)"
        outcomes = ", ".join(f"{k}={v}" for k, v in sorted(self.failures_by_outcome.items())) or "none"
        lines = [
            f"chaos seed={self.seed} (replay with --chaos-seed {self.seed})",
            f"chain calls: {self.calls} total, {self.failed} failed ({outcomes})",
            f"longest failure streak: {self.longest_failure_streak}",
            f"time to heal after last fault: {heal}",
            f"calls hung past {self.deadline_ms:.0f} ms: {self.hung}",
        ]
        if self.pool_size is not None or self.pool_healthy is not None:
            lines.append(f"pool: {self.pool_healthy}/{self.pool_size} healthy")
        if self.user_failures is not None:
            lines.append(f"user-facing failures: {self.user_failures}")
        for f in self.faults:
            lines.append(
                f"fault {f.get('id', '?')}: {f.get('fault')} target={f.get('target')} "
                f"window={f.get('window')} applied={f.get('applied', '?')}"
            )
        return "\n".join(lines)
