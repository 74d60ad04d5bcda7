"""API-node configuration: YAML with upstream key names where they exist (decentralized-api's config.yaml), plus the
harness's intervals and behaviour profile. Every validation error names the field and the accepted form.

    chain_node: {url: http://127.0.0.1:26657}
    current_node_version: v0.3.8
    last_used_version: v0.3.8
    upgrade_plan: {name: "", height: 0, node_version: ""}
    nodes: [{id, host, poc_port, poc_segment, inference_port, inference_segment, models: {M: {args: []}}, max_concurrent}]
    api: {public_server_port: 0, admin_server_port: 0, ml_server_port: 0, poc_callback_url: ""}
    intervals: {status_poll_s: 1, reconcile_s: 1, client_refresh_s: 30, pool_health_s: 30, poc_every_blocks: 0}
    profile: reference            # or pr228
    profile_overrides: {pool_size: 5}
    state_file: apinode-state.yaml   # default: next to the config file
    ready_file: ready.json           # optional: the actual ports, written once listening
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.errors import ConfigError
from harness.model.apinode.profiles import Profile, resolve_profile
from harness.model.apinode.upgrade import Plan
from harness.util.ports import ensure_port_free
from harness.versions import check_version

DEFAULT_VERSION = "v0.3.8"


@dataclass
class NodeConfig:
    """One MLNode (upstream apiconfig.InferenceNodeConfig field names)."""

    id: str
    host: str
    poc_port: int
    inference_port: int
    poc_segment: str = ""
    inference_segment: str = ""
    models: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    max_concurrent: int = 10
    hardware: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: object, *, where: str = "nodes[]") -> NodeConfig:
        if not isinstance(d, dict):
            raise ConfigError(f"{where}: expected a mapping with id, host, poc_port, inference_port, models; got {d!r}")
        known = {f.name for f in dataclasses.fields(cls)} | {"version", "node_num"}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"{where}: unknown field(s) {unknown}; accepted: {sorted(known - {'version', 'node_num'})}")
        node_id = d.get("id")
        if not isinstance(node_id, str) or not node_id.strip():
            raise ConfigError(f"{where}.id: expected a non-empty string, got {node_id!r}")
        where = f"{where.rstrip('[]')}[{node_id}]" if where.endswith("[]") else where
        host = d.get("host")
        if not isinstance(host, str) or not host or "://" in host or "/" in host:
            raise ConfigError(f"{where}.host: expected a host name or IP without scheme or path (e.g. 127.0.0.1), got {host!r}")
        ports = {}
        for key in ("poc_port", "inference_port"):
            val = d.get(key)
            if not isinstance(val, int) or isinstance(val, bool) or not 1 <= val <= 65535:
                raise ConfigError(f"{where}.{key}: expected a TCP port 1..65535, got {val!r}")
            ports[key] = val
        segs = {}
        for key in ("poc_segment", "inference_segment"):
            val = d.get(key) or ""
            if not isinstance(val, str) or (val and not val.startswith("/")):
                raise ConfigError(f"{where}.{key}: expected \"\" or a path starting with '/', got {val!r}")
            segs[key] = val
        models = d.get("models", {})
        if not isinstance(models, dict):
            raise ConfigError(
                f'{where}.models: must be a map model -> {{"args": [...]}}, got a {type(models).__name__} ({models!r}); '
                'e.g. {"Qwen/Qwen2.5-7B-Instruct": {"args": []}}'
            )
        clean_models: dict[str, dict[str, list[str]]] = {}
        for model, spec in models.items():
            spec = spec if spec is not None else {}
            args = spec.get("args", []) if isinstance(spec, dict) else None
            if not isinstance(model, str) or not model or not isinstance(args, list) or not all(isinstance(a, str) for a in args):
                raise ConfigError(f'{where}.models[{model!r}]: expected {{"args": [str, ...]}}, got {spec!r}')
            clean_models[model] = {"args": list(args)}
        mc = d.get("max_concurrent", 10)
        if not isinstance(mc, int) or isinstance(mc, bool) or mc < 1:
            raise ConfigError(f"{where}.max_concurrent: expected a positive integer, got {mc!r}")
        hw = d.get("hardware") or []
        if not isinstance(hw, list):
            raise ConfigError(f"{where}.hardware: expected a list of {{type, count}}, got {hw!r}")
        return cls(id=node_id, host=host, models=clean_models, max_concurrent=mc, hardware=list(hw), **ports, **segs)


def check_nodes(raw: object, *, field_name: str = "nodes") -> list[NodeConfig]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ConfigError(f"{field_name}: expected a list of node mappings, got {raw!r}")
    nodes = [NodeConfig.from_dict(n, where=f"{field_name}[]") for n in raw]
    seen: set[str] = set()
    for n in nodes:
        if n.id in seen:
            raise ConfigError(f"{field_name}: duplicate node id {n.id!r}; every node id must be unique")
        seen.add(n.id)
    return nodes


@dataclass
class Intervals:
    status_poll_s: float = 5.0
    reconcile_s: float = 5.0
    client_refresh_s: float = 30.0
    pool_health_s: float = 30.0
    poc_every_blocks: int = 0  # 0 = no PoC phases
    chain_call_timeout_s: float = 5.0  # per-call deadline of a chain query, retries included
    chain_ping_timeout_s: float = 1.0
    startup_sync_timeout_s: float = 15.0  # MLNode traffic waits this long at most for the first chain answer


@dataclass
class ApiConfig:
    public_server_port: int = 0
    admin_server_port: int = 0
    ml_server_port: int = 0
    poc_callback_url: str = ""


@dataclass
class ApiNodeConfig:
    chain_url: str
    current_node_version: str = DEFAULT_VERSION
    last_used_version: str = ""
    upgrade_plan: Plan | None = None
    current_height: int = 0
    nodes: list[NodeConfig] = field(default_factory=list)
    api: ApiConfig = field(default_factory=ApiConfig)
    intervals: Intervals = field(default_factory=Intervals)
    profile_name: str = "reference"
    profile_overrides: dict[str, Any] = field(default_factory=dict)
    state_file: Path | None = None
    ready_file: Path | None = None
    config_path: Path | None = None

    @property
    def profile(self) -> Profile:
        return resolve_profile(self.profile_name, self.profile_overrides)

    @property
    def ws_url(self) -> str:
        return self.chain_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1).rstrip("/") + "/websocket"

    def state_path(self) -> Path:
        if self.state_file is not None:
            return self.state_file
        base = self.config_path.parent if self.config_path else Path.cwd()
        stem = self.config_path.stem if self.config_path else "apinode"
        return base / f"{stem}.state.yaml"

    def check_ports_free(self) -> None:
        ensure_port_free(self.api.public_server_port, field="api.public_server_port")
        ensure_port_free(self.api.admin_server_port, field="api.admin_server_port")
        ensure_port_free(self.api.ml_server_port, field="api.ml_server_port")

    @classmethod
    def from_dict(cls, raw: object, *, config_path: Path | None = None) -> ApiNodeConfig:
        if not isinstance(raw, dict):
            raise ConfigError(f"apinode config: expected a mapping at the top level, got {type(raw).__name__}")
        known = {"chain_node", "current_node_version", "last_used_version", "upgrade_plan", "current_height", "nodes", "api",
                 "intervals", "profile", "profile_overrides", "state_file", "ready_file", "merged_node_config"}  # fmt: skip
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ConfigError(f"apinode config: unknown key(s) {unknown}; accepted: {sorted(known)}")
        chain = raw.get("chain_node") or {}
        url = chain.get("url") if isinstance(chain, dict) else None
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ConfigError(
                f"chain_node.url: missing or not an http(s) URL (got {url!r}); e.g. chain_node: {{url: http://127.0.0.1:26657}}"
            )
        profile_name = raw.get("profile", "reference")
        overrides = raw.get("profile_overrides") or {}
        if not isinstance(overrides, dict):
            raise ConfigError(f"profile_overrides: expected a mapping knob -> value, got {overrides!r}")
        resolve_profile(profile_name, overrides)  # validates both
        cur = check_version(str(raw.get("current_node_version") or DEFAULT_VERSION), field="current_node_version")
        last = raw.get("last_used_version") or ""
        if last:
            last = check_version(str(last), field="last_used_version")
        plan = None
        if raw.get("upgrade_plan"):
            plan = Plan.from_dict(raw["upgrade_plan"])
            if plan.node_version:
                check_version(plan.node_version, field="upgrade_plan.node_version")
            else:
                plan = None
        api_raw = raw.get("api") or {}
        if not isinstance(api_raw, dict):
            raise ConfigError(f"api: expected a mapping, got {api_raw!r}")
        api = ApiConfig()
        for key in ("public_server_port", "admin_server_port", "ml_server_port"):
            val = api_raw.get(key, 0)
            if not isinstance(val, int) or isinstance(val, bool) or not 0 <= val <= 65535:
                raise ConfigError(f"api.{key}: expected a port 0..65535 (0 = allocate a free one), got {val!r}")
            setattr(api, key, val)
        api.poc_callback_url = str(api_raw.get("poc_callback_url") or "")
        intervals = Intervals()
        iv_raw = raw.get("intervals") or {}
        if not isinstance(iv_raw, dict):
            raise ConfigError(f"intervals: expected a mapping, got {iv_raw!r}")
        for key, val in iv_raw.items():
            if not hasattr(intervals, key):
                raise ConfigError(
                    f"intervals.{key}: unknown interval; accepted: {[f.name for f in dataclasses.fields(Intervals)]}"
                )
            if key == "poc_every_blocks":
                if not isinstance(val, int) or isinstance(val, bool) or val < 0:
                    raise ConfigError(f"intervals.poc_every_blocks: expected an integer >= 0 (0 = off), got {val!r}")
            elif not isinstance(val, int | float) or isinstance(val, bool) or not 0.01 <= val <= 3600:
                raise ConfigError(f"intervals.{key}: expected seconds between 0.01 and 3600, got {val!r}")
            setattr(intervals, key, val)
        base = config_path.parent if config_path else Path.cwd()
        state_file = Path(raw["state_file"]) if raw.get("state_file") else None
        ready_file = Path(raw["ready_file"]) if raw.get("ready_file") else None
        height = raw.get("current_height", 0) or 0
        if not isinstance(height, int) or height < 0:
            raise ConfigError(f"current_height: expected an integer >= 0, got {height!r}")
        return cls(
            chain_url=url.rstrip("/"),
            current_node_version=cur,
            last_used_version=last,
            upgrade_plan=plan,
            current_height=height,
            nodes=check_nodes(raw.get("nodes")),
            api=api,
            intervals=intervals,
            profile_name=profile_name,
            profile_overrides=dict(overrides),
            state_file=(base / state_file) if state_file and not state_file.is_absolute() else state_file,
            ready_file=(base / ready_file) if ready_file and not ready_file.is_absolute() else ready_file,
            config_path=config_path,
        )

    @classmethod
    def load(cls, path: str | Path) -> ApiNodeConfig:
        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"--config: file {path} does not exist") from None
        except yaml.YAMLError as e:
            raise ConfigError(f"--config: {path} is not valid YAML: {e}") from None
        return cls.from_dict(raw, config_path=path.resolve())

    def to_dict(self) -> dict[str, Any]:
        """The YAML form (round-trips through from_dict)."""
        out: dict[str, Any] = {
            "chain_node": {"url": self.chain_url},
            "current_node_version": self.current_node_version,
            "last_used_version": self.last_used_version,
            "current_height": self.current_height,
            "nodes": [n.as_dict() for n in self.nodes],
            "api": dataclasses.asdict(self.api),
            "intervals": dataclasses.asdict(self.intervals),
            "profile": self.profile_name,
            "profile_overrides": dict(self.profile_overrides),
        }
        if self.upgrade_plan:
            out["upgrade_plan"] = self.upgrade_plan.as_dict()
        if self.state_file:
            out["state_file"] = str(self.state_file)
        if self.ready_file:
            out["ready_file"] = str(self.ready_file)
        return out

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))
        return path
