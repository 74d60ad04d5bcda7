"""Persisted version state (upstream rewrites config.yaml on every setter; here a separate YAML state file).

Every change is written to a temp file in the same directory, fsynced, then os.replace()d over the old file, and the
directory is fsynced: a crash (kill -9) leaves either the old or the new file, never a half-written one.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from harness.errors import ConfigError
from harness.model.apinode.config import ApiNodeConfig, NodeConfig, check_nodes, load_yaml
from harness.model.apinode.upgrade import Plan
from harness.validate import as_height, as_unix_ms, shown
from harness.versions import check_version

STATE_FORMAT = 1


@dataclass
class SwitchRecord:
    version: str
    previous: str
    height: int
    at_ms: int  # wall-clock ms when the API node switched
    plan_height: int = 0
    source: str = "block"  # "block" | "chain-sync"

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, d: object, where: str) -> SwitchRecord:
        if not isinstance(d, dict) or set(d) - {f.name for f in fields(cls)}:
            raise ConfigError(f"{where}: expected {{version, previous, height, at_ms, plan_height, source}}, got {shown(d)}")
        previous = d.get("previous") or ""
        source = d.get("source", "block")
        if source not in SWITCH_SOURCES:
            raise ConfigError(f"{where}.source: expected one of {', '.join(SWITCH_SOURCES)}, got {shown(source)}")
        return cls(
            version=check_version(d.get("version"), field=f"{where}.version"),
            previous=check_version(previous, field=f"{where}.previous") if previous else "",
            height=as_height(d.get("height"), f"{where}.height"),
            at_ms=as_unix_ms(d.get("at_ms"), f"{where}.at_ms"),
            plan_height=as_height(d.get("plan_height", 0), f"{where}.plan_height"),
            source=source,
        )


SWITCH_SOURCES = ("block", "chain-sync", "catch-up-sync")
MAX_LIST = 10_000


@dataclass
class VersionState:
    current_node_version: str
    last_used_version: str = ""
    current_height: int = 0
    applied_plan_height: int = 0
    upgrade_plans: list[Plan] = field(default_factory=list)
    switches: list[SwitchRecord] = field(default_factory=list)
    nodes: list[NodeConfig] | None = None  # set once nodes were changed on the admin API
    # while clients move from last_used_version to current_node_version: node id -> the old version whose stop was
    # sent to it (written before the request goes out, so a restart never sends it a second time)
    old_stops_sent: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format": STATE_FORMAT,
            "current_node_version": self.current_node_version,
            "last_used_version": self.last_used_version,
            "current_height": self.current_height,
            "applied_plan_height": self.applied_plan_height,
            "upgrade_plan": self.upgrade_plans[-1].as_dict() if self.upgrade_plans else None,
            "upgrade_plans": [p.as_dict() for p in self.upgrade_plans],
            "switches": [s.as_dict() for s in self.switches],
        }
        if self.old_stops_sent:  # only while a client refresh is under way
            out["old_stops_sent"] = dict(self.old_stops_sent)
        if self.nodes is not None:
            out["nodes"] = [n.as_dict() for n in self.nodes]
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, where: str) -> VersionState:
        """Every field checked as the config's are: a state file that was edited or damaged is refused, never
        written back."""
        try:
            known = {"format", "current_node_version", "last_used_version", "current_height", "applied_plan_height",
                     "upgrade_plan", "upgrade_plans", "switches", "nodes", "old_stops_sent"}  # fmt: skip
            unknown = sorted(map(str, set(d) - known))
            if unknown:
                raise ConfigError(f"unknown key(s) {shown(unknown)}")
            last = d.get("last_used_version") or ""
            plans, switches = d.get("upgrade_plans") or [], d.get("switches") or []
            if not isinstance(plans, list) or len(plans) > MAX_LIST or not isinstance(switches, list) or len(switches) > MAX_LIST:
                raise ConfigError(f"upgrade_plans and switches: expected lists of at most {MAX_LIST} entries")
            st = cls(
                current_node_version=check_version(d.get("current_node_version"), field="current_node_version"),
                last_used_version=check_version(last, field="last_used_version") if last else "",
                current_height=as_height(d.get("current_height") or 0, "current_height"),
                applied_plan_height=as_height(d.get("applied_plan_height") or 0, "applied_plan_height"),
                upgrade_plans=[Plan.from_dict(p, field_name=f"upgrade_plans[{i}]") for i, p in enumerate(plans)],
                switches=[SwitchRecord.from_dict(s, f"switches[{i}]") for i, s in enumerate(switches)],
            )
            if "nodes" in d:
                st.nodes = check_nodes(d["nodes"], field_name="nodes")
            st.old_stops_sent = _old_stops_sent(d.get("old_stops_sent") or {})
        except ConfigError as e:
            raise ConfigError(f"{where}: corrupt state file ({e}); delete it to start from the config") from None
        return st

    @classmethod
    def from_config(cls, cfg: ApiNodeConfig) -> VersionState:
        return cls(
            current_node_version=cfg.current_node_version,
            last_used_version=cfg.last_used_version,
            current_height=cfg.current_height,
            upgrade_plans=[cfg.upgrade_plan] if cfg.upgrade_plan else [],
        )


def _old_stops_sent(raw: object) -> dict[str, str]:
    if not isinstance(raw, dict) or len(raw) > MAX_LIST:
        raise ConfigError(f"old_stops_sent: expected a mapping of at most {MAX_LIST} node ids to versions, got {shown(raw)}")
    out: dict[str, str] = {}
    for node, version in raw.items():
        if not isinstance(node, str) or not node:
            raise ConfigError(f"old_stops_sent: node id {shown(node)} is not a non-empty string")
        out[node] = check_version(version, field=f"old_stops_sent.{node}")
    return out


def atomic_write(path: Path, data: bytes) -> None:
    """Write-to-temp + fsync + os.replace + directory fsync."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


class StateStore:
    """Loads and saves VersionState at one path."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.writes = 0

    def load(self, cfg: ApiNodeConfig) -> VersionState:
        """The persisted state if a state file exists, else the state the config describes."""
        if not self.path.exists():
            return VersionState.from_config(cfg)
        raw = load_yaml(self.path, "state file", hint="delete it to start from the config")
        if not isinstance(raw, dict):
            raise ConfigError(f"state file {self.path}: expected a mapping; delete it to start from the config")
        return VersionState.from_dict(raw, where=f"state file {self.path}")

    def save(self, state: VersionState) -> None:
        atomic_write(self.path, yaml.safe_dump(state.as_dict(), sort_keys=False).encode())
        self.writes += 1
        # clean stray temp files of a process killed mid-write earlier
        if self.writes == 1:
            for stray in self.path.parent.glob(f".{self.path.name}.*.tmp"):
                stray.unlink(missing_ok=True)
