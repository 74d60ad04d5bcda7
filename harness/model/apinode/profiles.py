"""Behaviour profiles: named knob sets that reproduce a specific API-node build's upgrade behaviour.

    reference  the design under test: switch when block H is processed, refresh clients, stop the old version and
               bring the new one up at once, every pending plan kept and applied in height order, a pool of 3
               self-healing chain clients; a user chat the MLNode failed (5xx, reset, timeout) is sent again, on the
               version current at that moment, for up to 2 s before the user gets the error
    pr228      upstream PR #228: switch while processing H-1, worker clients refreshed on a ticker (old prefix until the
               tick, then one stop on the old version), status polls through the worker client (so the node finds
               the new version STOPPED only after the tick, and refuses chats until a reconcile brings it up), the
               last listed plan overwrites earlier ones, one shared chain connection, no healing

Single knobs can be overridden to reproduce one bug at a time (`{"switch_offset": 1}`: switches one block late;
`{"reaction_ms": 1500, "reaction_jitter_ms": 300}`: a slow node, which starts on each block 1.5-1.8 s after it
arrived, as a real node that queries the chain on every block may).
What the harness demands of an API node (the audit contract) is the judge's, in harness/audit/contracts.py: a profile
describes the model's behaviour, never the verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from harness.errors import ConfigError

CLIENT_REFRESH_MODES = ("immediate", "ticker")
PLAN_MERGE_MODES = ("ordered", "last_wins")
# With client_refresh "immediate": when the new version is brought up after the old one is stopped.
#   at_switch  right away, in the switch itself (no moment without a serving version)
#   next_tick  one reconcile interval later (the node is STOPPED meanwhile: chats are refused, a 503 window)
#   before_stop  the new version's inference/up first, then the old version's stop (a bug on one GPU: an exclusive
#                MLNode refuses it, 409, and the node serves only once a status poll finds the new version STOPPED)
BRING_UP_MODES = ("at_switch", "next_tick", "before_stop")
# Which client the status worker asks for the MLNode's state:
#   fresh   a per-call client on the current version (it sees the new version as soon as the node switched)
#   worker  the node's worker client (it sees the new version only once the worker clients were refreshed)
STATUS_POLL_MODES = ("fresh", "worker")


@dataclass(frozen=True)
class Profile:
    name: str
    switch_offset: int  # switch when height >= plan.height + switch_offset (0: at H; -1: at H-1)
    client_refresh: str  # "immediate" | "ticker"
    plan_merge: str  # "ordered" | "last_wins"
    pool_size: int
    healing: bool
    stop_old: bool
    bring_up: str = "at_switch"  # "at_switch" | "next_tick" (see BRING_UP_MODES; client_refresh "immediate" only)
    status_poll: str = "fresh"  # "fresh" | "worker" (see STATUS_POLL_MODES)
    reaction_ms: int = 0  # each block is processed this long after it arrived (blocks stay in order)
    reaction_jitter_ms: int = 0  # plus a uniform random 0..jitter ms per block
    chat_retry_ms: int = 0  # a chat the MLNode failed (5xx or no answer) is retried for this long (0: never)

    def knobs(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "name"}


PROFILES: dict[str, Profile] = {
    "reference": Profile("reference", 0, "immediate", "ordered", 3, True, True, chat_retry_ms=2000),
    # status_poll "worker": measured on the real PR #228 binary (docs/upstream-results.md): between H-1 and the
    # refresh tick it serves chats; after the tick it refuses them until its reconcile brings the new version up
    "pr228": Profile("pr228", -1, "ticker", "last_wins", 1, False, True, status_poll="worker"),
}

KNOBS = ("switch_offset", "client_refresh", "plan_merge", "pool_size", "healing", "stop_old", "bring_up", "status_poll",
         "reaction_ms", "reaction_jitter_ms", "chat_retry_ms")  # fmt: skip
MAX_REACTION_MS = 60_000


def resolve_profile(name: object, overrides: dict[str, Any] | None = None) -> Profile:
    """The named profile with single knobs overridden; raises ConfigError naming the field."""
    if not isinstance(name, str) or name not in PROFILES:
        raise ConfigError(f"profile: unknown profile {name!r}; choose one of {', '.join(sorted(PROFILES))}")
    prof = PROFILES[name]
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(KNOBS))
    if unknown:
        raise ConfigError(f"profile_overrides: unknown knob(s) {unknown}; known knobs: {', '.join(KNOBS)}")
    checked: dict[str, Any] = {}
    for key, val in overrides.items():
        field = f"profile_overrides.{key}"
        if key == "switch_offset":
            if not isinstance(val, int) or isinstance(val, bool) or not -10 <= val <= 10:
                raise ConfigError(f"{field}: expected an integer between -10 and 10 (0 = switch at H, -1 = at H-1), got {val!r}")
        elif key == "client_refresh" and val not in CLIENT_REFRESH_MODES:
            raise ConfigError(f"{field}: expected one of {CLIENT_REFRESH_MODES}, got {val!r}")
        elif key == "bring_up" and val not in BRING_UP_MODES:
            raise ConfigError(f"{field}: expected one of {BRING_UP_MODES}, got {val!r}")
        elif key == "status_poll" and val not in STATUS_POLL_MODES:
            raise ConfigError(f"{field}: expected one of {STATUS_POLL_MODES}, got {val!r}")
        elif key == "plan_merge" and val not in PLAN_MERGE_MODES:
            raise ConfigError(f"{field}: expected one of {PLAN_MERGE_MODES}, got {val!r}")
        elif key == "pool_size" and (not isinstance(val, int) or isinstance(val, bool) or not 1 <= val <= 32):
            raise ConfigError(f"{field}: expected an integer from 1 to 32, got {val!r}")
        elif key in ("reaction_ms", "reaction_jitter_ms", "chat_retry_ms") and (
            not isinstance(val, int) or isinstance(val, bool) or not 0 <= val <= MAX_REACTION_MS
        ):
            raise ConfigError(f"{field}: expected milliseconds from 0 to {MAX_REACTION_MS}, got {val!r}")
        elif key in ("healing", "stop_old") and not isinstance(val, bool):
            raise ConfigError(f"{field}: expected true or false, got {val!r}")
        checked[key] = val
    return replace(prof, **checked) if checked else prof


def api_intervals(block_time_s: float) -> dict[str, float]:
    """API-node intervals scaled to the block time (the model runs fast blocks; every interval is in blocks)."""
    bt = max(block_time_s, 0.05)
    return {
        "status_poll_s": round(2 * bt, 3),
        "reconcile_s": round(2 * bt, 3),
        "client_refresh_s": round(10 * bt, 3),  # pr228's 30 s ticker, scaled: 10 blocks
        "pool_health_s": round(2 * bt, 3),
        "poc_every_blocks": 0,
    }
