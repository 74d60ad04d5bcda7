"""Behaviour profiles: named knob sets that reproduce a specific API-node build's upgrade behaviour.

    reference  the seed's design: switch when block H is processed, refresh clients and stop the old version at once,
               every pending plan kept and applied in height order, a pool of 3 self-healing chain clients
    pr228      upstream PR #228: switch while processing H-1, worker clients refreshed on a ticker (old prefix until the
               tick, then one stop on the old version), the last listed plan overwrites earlier ones, one shared
               chain connection, no healing

Each profile also states its audit contract (grace window after the switch, whether an old-version stop is due).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from harness.errors import ConfigError

CLIENT_REFRESH_MODES = ("immediate", "ticker")
PLAN_MERGE_MODES = ("ordered", "last_wins")
# Slack added to every grace window: between the block's header time and the API node's first request on the new
# prefix lie the event's delivery, one PartialUpgradeAll query through the pool, and requests already in flight.
# 250 ms held on an idle machine; 589 ms was measured with three testnets and their JVMs on 2 cores, so 750 ms.
CONTRACT_SLACK_MS = 750


@dataclass(frozen=True)
class Contract:
    """What the prefix audit may expect from a profile: old-prefix traffic tolerated for grace_ms after the switch,
    and whether exactly one `POST /<old>/api/v1/stop` per node is due."""

    grace_ms: int
    stop_old: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Profile:
    name: str
    switch_offset: int  # switch when height >= plan.height + switch_offset (0: at H; -1: at H-1)
    client_refresh: str  # "immediate" | "ticker"
    plan_merge: str  # "ordered" | "last_wins"
    pool_size: int
    healing: bool
    stop_old: bool

    def contract(self, *, block_time_s: float = 1.0, client_refresh_s: float = 30.0) -> Contract:
        """Grace window: about one block when clients refresh immediately; one refresh tick (plus a block) on a ticker."""
        block_ms = int(block_time_s * 1000)
        if self.client_refresh == "ticker":
            return Contract(int(client_refresh_s * 1000) + block_ms + CONTRACT_SLACK_MS, self.stop_old)
        return Contract(block_ms + CONTRACT_SLACK_MS, self.stop_old)

    def knobs(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "name"}


PROFILES: dict[str, Profile] = {
    "reference": Profile("reference", 0, "immediate", "ordered", 3, True, True),
    "pr228": Profile("pr228", -1, "ticker", "last_wins", 1, False, True),
}

KNOBS = ("switch_offset", "client_refresh", "plan_merge", "pool_size", "healing", "stop_old")


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
        elif key == "plan_merge" and val not in PLAN_MERGE_MODES:
            raise ConfigError(f"{field}: expected one of {PLAN_MERGE_MODES}, got {val!r}")
        elif key == "pool_size" and (not isinstance(val, int) or isinstance(val, bool) or not 1 <= val <= 32):
            raise ConfigError(f"{field}: expected an integer from 1 to 32, got {val!r}")
        elif key in ("healing", "stop_old") and not isinstance(val, bool):
            raise ConfigError(f"{field}: expected true or false, got {val!r}")
        checked[key] = val
    return replace(prof, **checked) if checked else prof
