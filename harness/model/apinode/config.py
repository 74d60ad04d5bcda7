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
import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.errors import ConfigError
from harness.model.apinode.profiles import Profile, resolve_profile
from harness.model.apinode.upgrade import Plan
from harness.util.ports import ensure_port_free
from harness.validate import as_height, as_int, as_number, as_port, as_text, http_url, shown
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
            raise ConfigError(f"{where}: expected a mapping with id, host, poc_port, inference_port, models; got {shown(d)}")
        known = {f.name for f in dataclasses.fields(cls)} | {"version", "node_num"}
        unknown = sorted(map(str, set(d) - known))
        if unknown:
            raise ConfigError(f"{where}: unknown field(s) {shown(unknown)}; accepted: {sorted(known - {'version', 'node_num'})}")
        node_id = as_text(d.get("id"), f"{where}.id", max_len=MAX_ID_LEN, pattern=NODE_ID_RE, form=NODE_ID_FORM)
        where = f"{where.rstrip('[]')}[{node_id}]" if where.endswith("[]") else where
        host = check_host(d.get("host"), f"{where}.host")
        ports = {key: as_port(d.get(key), f"{where}.{key}") for key in ("poc_port", "inference_port")}
        segs = {key: check_segment(d.get(key) or "", f"{where}.{key}") for key in ("poc_segment", "inference_segment")}
        models = d.get("models", {})
        if not isinstance(models, dict) or len(models) > MAX_MODELS:
            raise ConfigError(
                f'{where}.models: must be a map model -> {{"args": [...]}} of at most {MAX_MODELS} models, got {shown(models)}; '
                'e.g. {"Qwen/Qwen2.5-7B-Instruct": {"args": []}}'
            )
        clean_models: dict[str, dict[str, list[str]]] = {}
        for model, spec in models.items():
            spec = spec if spec is not None else {}
            args = spec.get("args", []) if isinstance(spec, dict) else None
            if (not isinstance(model, str) or not 0 < len(model) <= MAX_TEXT_LEN or not isinstance(args, list)
                    or len(args) > MAX_ARGS or not all(isinstance(a, str) and len(a) <= MAX_TEXT_LEN for a in args)):  # fmt: skip
                raise ConfigError(
                    f'{where}.models[{shown(model)}]: expected {{"args": [str, ...]}} (at most {MAX_ARGS} args of at most '
                    f"{MAX_TEXT_LEN} characters), got {shown(spec)}"
                )
            clean_models[model] = {"args": list(args)}
        mc = as_int(d.get("max_concurrent", 10), f"{where}.max_concurrent", lo=1, hi=MAX_CONCURRENT)
        hardware = check_hardware(d.get("hardware"), where)
        return cls(id=node_id, host=host, models=clean_models, max_concurrent=mc, hardware=hardware, **ports, **segs)


MAX_NODES = 256
MAX_ID_LEN, MAX_TEXT_LEN, MAX_MODELS, MAX_ARGS, MAX_HARDWARE, MAX_CONCURRENT = 128, 1024, 64, 64, 64, 10_000
NODE_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~:@+=-]*")
NODE_ID_FORM = "a node id: letters, digits and . _ ~ : @ + = - (no '/', '?', '#', '%' or spaces), starting with a letter or digit"
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOSTNAME_RE = re.compile(rf"(?=.{{1,253}}\Z){_LABEL}(?:\.{_LABEL})*\.?")
_SEGMENT_RE = re.compile(r"(?:/[A-Za-z0-9._~!$&'()*+,;=:@-]+)*/?")


def check_host(value: object, field: str) -> str:
    """A host name, an IPv4 address or a bracketed IPv6 address: nothing that could carry user info, a port, a path,
    a query or another scheme into the MLNode URLs built from it."""
    form = "a host name or IP address without scheme, user info, port or path (e.g. 127.0.0.1, mlnode-1, [::1])"
    if isinstance(value, str) and value.startswith("[") and value.endswith("]"):
        try:
            ipaddress.IPv6Address(value[1:-1])
            return value
        except ValueError:
            pass
    elif isinstance(value, str) and _HOSTNAME_RE.fullmatch(value):
        return value
    raise ConfigError(f"{field}: expected {form}, got {shown(value)}")


def check_segment(value: object, field: str) -> str:
    """An URL path segment put after the version: '' or '/seg[/seg...]', with no '..', '.', '?', '#' or '%'."""
    form = "\"\" or a path such as /mlnode (segments of letters, digits and -._~; no '..', '?', '#' or '%')"
    if not isinstance(value, str) or len(value) > 256 or not _SEGMENT_RE.fullmatch(value) or (value and value[0] != "/"):
        raise ConfigError(f"{field}: expected {form}, got {shown(value)}")
    if any(part in (".", "..") for part in value.split("/")):
        raise ConfigError(f"{field}: expected {form}, got {shown(value)}")
    return value


def check_hardware(value: object, where: str) -> list[dict[str, Any]]:
    """Upstream's []Hardware{type string, count uint32}."""
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_HARDWARE:
        raise ConfigError(f"{where}.hardware: expected a list of at most {MAX_HARDWARE} {{type, count}}, got {shown(value)}")
    out = []
    for i, hw in enumerate(value):
        if not isinstance(hw, dict) or set(hw) - {"type", "count"}:
            raise ConfigError(f"{where}.hardware[{i}]: expected {{type: str, count: int}}, got {shown(hw)}")
        out.append({"type": as_text(hw.get("type"), f"{where}.hardware[{i}].type", max_len=MAX_ID_LEN),
                    "count": as_int(hw.get("count", 0), f"{where}.hardware[{i}].count", hi=2**32 - 1)})  # fmt: skip
    return out


MAX_YAML_BYTES = 4 << 20


def load_yaml(path: Path, what: str, *, hint: str = "") -> Any:
    """A small YAML file (config, state): size-limited, UTF-8, parsed safely; ConfigError naming the file otherwise."""
    hint = f"; {hint}" if hint else ""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_YAML_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{what}: file {path} does not exist") from None
    except OSError as e:
        raise ConfigError(f"{what}: cannot read {path} ({e.strerror or e}){hint}") from None
    if len(data) > MAX_YAML_BYTES:
        raise ConfigError(f"{what}: {path} is larger than {MAX_YAML_BYTES >> 20} MiB; expected a small YAML file{hint}")
    try:
        return yaml.safe_load(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{what}: {path} is not UTF-8 text; expected YAML{hint}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{what}: {path} is not valid YAML: {shown(str(e), 300)}{hint}") from None
    except RecursionError:
        raise ConfigError(f"{what}: {path} nests too deeply; expected a flat YAML mapping{hint}") from None


def check_nodes(raw: object, *, field_name: str = "nodes") -> list[NodeConfig]:
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > MAX_NODES:
        raise ConfigError(f"{field_name}: expected a list of at most {MAX_NODES} node mappings, got {shown(raw)}")
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
        raw = {str(k): v for k, v in raw.items()}
        known = {"chain_node", "current_node_version", "last_used_version", "upgrade_plan", "current_height", "nodes", "api",
                 "intervals", "profile", "profile_overrides", "state_file", "ready_file", "merged_node_config"}  # fmt: skip
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ConfigError(f"apinode config: unknown key(s) {shown(unknown)}; accepted: {sorted(known)}")
        chain = raw.get("chain_node") or {}
        url = http_url(chain.get("url") if isinstance(chain, dict) else None, "chain_node.url")
        profile_name = raw.get("profile", "reference")
        overrides = raw.get("profile_overrides") or {}
        if not isinstance(overrides, dict):
            raise ConfigError(f"profile_overrides: expected a mapping knob -> value, got {shown(overrides)}")
        resolve_profile(profile_name, overrides)  # validates both
        cur = check_version(raw.get("current_node_version") or DEFAULT_VERSION, field="current_node_version")
        last = raw.get("last_used_version") or ""
        if last:
            last = check_version(last, field="last_used_version")
        plan = Plan.from_dict(raw["upgrade_plan"], allow_empty=True) if raw.get("upgrade_plan") else None
        plan = plan if plan is not None and plan.node_version else None
        api = _api_from_raw(raw.get("api") or {})
        intervals = _intervals_from_raw(raw.get("intervals") or {})
        base = config_path.parent if config_path else Path.cwd()
        state_file = Path(as_text(raw["state_file"], "state_file", max_len=4096)) if raw.get("state_file") else None
        ready_file = Path(as_text(raw["ready_file"], "ready_file", max_len=4096)) if raw.get("ready_file") else None
        height = as_height(raw.get("current_height", 0) or 0, "current_height")
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
        return cls.from_dict(load_yaml(path, "--config"), config_path=path.resolve())

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


def _api_from_raw(api_raw: object) -> ApiConfig:
    """The `api:` section (ports, PoC callback URL), validated; unknown keys refused."""
    if not isinstance(api_raw, dict):
        raise ConfigError(f"api: expected a mapping, got {shown(api_raw)}")
    api = ApiConfig()
    api_keys = [f.name for f in dataclasses.fields(ApiConfig)]
    unknown_api = sorted(map(str, set(api_raw) - set(api_keys)))
    if unknown_api:
        raise ConfigError(f"api: unknown key(s) {shown(unknown_api)}; accepted: {api_keys}")
    for key in ("public_server_port", "admin_server_port", "ml_server_port"):
        setattr(api, key, as_port(api_raw.get(key, 0), f"api.{key}", allow_zero=True))
    callback = api_raw.get("poc_callback_url") or ""
    api.poc_callback_url = http_url(callback, "api.poc_callback_url", example="http://127.0.0.1:9100") if callback else ""
    return api


def _intervals_from_raw(iv_raw: object) -> Intervals:
    """The `intervals:` section (seconds, or blocks for poc_every_blocks), validated; unknown intervals refused."""
    intervals = Intervals()
    if not isinstance(iv_raw, dict):
        raise ConfigError(f"intervals: expected a mapping, got {shown(iv_raw)}")
    for key, val in iv_raw.items():
        if not isinstance(key, str) or not hasattr(intervals, key):
            raise ConfigError(
                f"intervals.{shown(key)}: unknown interval; accepted: {[f.name for f in dataclasses.fields(Intervals)]}"
            )
        if key == "poc_every_blocks":
            val = as_int(val, "intervals.poc_every_blocks", hi=10**6, what="a number of blocks (0 = off)")
        else:
            val = as_number(val, f"intervals.{key}", lo=0.01, hi=3600, unit="seconds")
        setattr(intervals, key, val)
    return intervals
