"""Upgrade-plan logic, pure and table-testable: merge the chain's partial upgrades into pending plans, and decide
when `current_node_version` switches.

    plans = merge_plans(pending, listed, mode="ordered")           # keep every pending plan, height order
    step = decide_switch(plans, height=h, current="v0.3.8", switch_offset=0)
    step.switches -> [VersionSwitch(version, height, plan)]; step.current; step.pending
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from harness.errors import ConfigError
from harness.validate import as_height, as_text, shown
from harness.versions import check_version, is_version


@dataclass(frozen=True, order=True)
class Plan:
    height: int
    node_version: str
    name: str = ""

    def as_dict(self) -> dict:
        return {"name": self.name, "height": self.height, "node_version": self.node_version}

    @classmethod
    def from_dict(cls, d: object, *, field_name: str = "upgrade_plan", allow_empty: bool = False) -> Plan:
        """A plan from a config or state file; its node_version must be a version ("" too with allow_empty: none)."""
        if not isinstance(d, dict):
            raise ConfigError(f"{field_name}: expected a mapping with name, height, node_version; got {shown(d)}")
        unknown = sorted(map(str, set(d) - {"name", "height", "node_version"}))
        if unknown:
            raise ConfigError(f"{field_name}: unknown key(s) {shown(unknown)}; accepted: name, height, node_version")
        version = d.get("node_version") or ""
        if version or not allow_empty:
            version = check_version(version, field=f"{field_name}.node_version")
        return cls(
            height=as_height(d.get("height") or 0, f"{field_name}.height"),
            node_version=version,
            name=as_text(d.get("name") or "", f"{field_name}.name", min_len=0, max_len=256),
        )


@dataclass(frozen=True)
class VersionSwitch:
    version: str
    height: int  # the block height whose processing made the switch
    previous: str
    plan: Plan


@dataclass
class Step:
    current: str
    pending: list[Plan]
    applied_height: int = 0  # height of the newest plan consumed so far; older plans are never re-applied
    switches: list[VersionSwitch] = field(default_factory=list)


def plan_from_upgrade_info(name: str, height: int, info: str) -> Plan | None:
    """A full (x/upgrade) plan counts when its `info` JSON carries a node_version that is a version (anything else
    from the chain is ignored: it never becomes a switch, a persisted version or a URL prefix)."""
    try:
        data = json.loads(info) if info and len(info) <= 65536 else {}
    except (ValueError, RecursionError):
        return None
    version = data.get("node_version") if isinstance(data, dict) else None
    return Plan(height=height, node_version=version, name=name[:256]) if is_version(version) else None


def merge_plans(pending: list[Plan], listed: list[Plan], *, mode: str) -> list[Plan]:
    """Combine what we already hold with what the chain lists now (entries without a node_version are ignored).

    ordered:   every plan kept, one per height (a listed entry replaces a pending one at the same height), ascending.
    last_wins: upstream PR #228: each listed entry, in ascending height, overwrites the single plan; so the last
               one wins (a pending v0.3.10 hides v0.3.9). With nothing listed the held plan stays.
    """
    listed = sorted(p for p in listed if is_version(p.node_version))
    if mode == "last_wins":
        return [listed[-1]] if listed else list(pending[-1:])
    if mode != "ordered":
        raise ValueError(f"unknown plan_merge mode {mode!r}")
    by_height = {p.height: p for p in pending}
    by_height.update({p.height: p for p in listed})
    return [by_height[h] for h in sorted(by_height)]


def decide_switch(plans: list[Plan], *, height: int, current: str, switch_offset: int, applied_height: int = 0) -> Step:
    """Apply every plan due at `height` (height >= plan.height + switch_offset), in height order.

    A due plan whose version equals the current one is consumed without a switch. Plans not yet due stay pending.
    Plans at or below `applied_height` were consumed before (the chain lists an entry until the end of H+1) and are
    dropped, so an older entry still listed can never switch the version back.
    """
    step = Step(current=current, pending=[], applied_height=applied_height)
    for plan in sorted(plans):
        if plan.height <= applied_height:
            continue
        if height >= plan.height + switch_offset:
            step.applied_height = plan.height
            if is_version(plan.node_version) and plan.node_version != step.current:
                step.switches.append(VersionSwitch(plan.node_version, height, step.current, plan))
                step.current = plan.node_version
        else:
            step.pending.append(plan)
    return step
