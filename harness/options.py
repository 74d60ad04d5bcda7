"""Run options shared by the pytest plugin and the CLI (`harness up`, `harness demo`): parsed and
validated once, each error naming the option and the accepted values."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from harness.backends.registry import BACKENDS
from harness.backends.registry import backend as backend_entry
from harness.errors import ConfigError
from harness.mlnode.lifecycle import MAX_SLOW_START_S, MLNodeLifecycle
from harness.versions import DEFAULT_PATH, parse_version_list

PROFILES = ("reference", "pr228")
TOPOLOGIES = ("single", "side-by-side")


@dataclass(frozen=True)
class RunOptions:
    backend: str = "embedded"
    versions: tuple[str, ...] = DEFAULT_PATH
    api_profile: str = "reference"
    topology: str = "single"
    block_time_s: float = 0.2
    keep_env: bool = False
    bundle_dir: Path = Path("harness-bundles")
    chaos_seed: int | None = None
    env_file: Path | None = None
    images: str = "local"
    image_overrides: dict[str, str] = field(default_factory=dict)
    gonka_bin: Path | None = None  # --gonka-bin / HARNESS_GONKA_BIN: the user's inferenced + decentralized-api
    gonka_revision: str = ""  # --gonka-revision: a label for the binaries when their build info has none
    gonka_cache: str = ""  # --gonka-cache DIR / HARNESS_GONKA_CACHE: snapshots of serving real testnets; "off": none
    # every MLNode mock's lifecycle modes unless its participant or node says otherwise (testnet_with(mlnode_lifecycle=
    # MLNodeLifecycle(exclusive=True)); `harness up --mlnode-exclusive --mlnode-slow-start S`)
    mlnode_lifecycle: MLNodeLifecycle = field(default_factory=MLNodeLifecycle)

    @property
    def start_version(self) -> str:
        return self.versions[0]

    def with_(self, **changes: object) -> RunOptions:
        return replace(self, **changes)  # type: ignore[arg-type]


def choice(option: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ConfigError(f"{option}: {value!r} is not one of {', '.join(allowed)}")
    return value


def positive_float(option: str, value: str | float, *, minimum: float = 0.01, maximum: float = 60.0) -> float:
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{option}: {value!r} is not a number of seconds (e.g. 0.2)") from None
    if not minimum <= f <= maximum:
        raise ConfigError(f"{option}: {f} is out of range; use {minimum} to {maximum} seconds")
    return f


def build_options(
    *,
    backend: str = "embedded",
    versions: str | None = None,
    api_profile: str = "reference",
    topology: str = "single",
    block_time: str | float | None = None,
    keep_env: bool = False,
    bundle_dir: str | Path | None = None,
    chaos_seed: str | int | None = None,
    env_file: str | Path | None = None,
    images: str = "local",
    image_chain: str | None = None,
    image_api: str | None = None,
    image_wiremock: str | None = None,
    gonka_bin: str | Path | None = None,
    gonka_revision: str | None = None,
    gonka_cache: str | Path | None = None,
    mlnode_exclusive: bool = False,
    mlnode_slow_start: str | float | None = None,
) -> RunOptions:
    """Validate raw option values (strings from argv or ini) into RunOptions."""
    seed = _chaos_seed(chaos_seed)
    opts = RunOptions(
        backend=choice("--backend", backend, tuple(BACKENDS)),
        versions=tuple(parse_version_list(versions, field="--versions")) if versions else DEFAULT_PATH,
        api_profile=choice("--api-profile", api_profile, PROFILES),
        topology=choice("--topology", topology, TOPOLOGIES),
        block_time_s=positive_float("--block-time", block_time) if block_time not in (None, "") else 0.2,
        keep_env=keep_env,
        bundle_dir=Path(bundle_dir or os.environ.get("HARNESS_BUNDLE_DIR", "harness-bundles")),
        chaos_seed=seed,
        env_file=Path(env_file) if env_file else None,
        images=choice("--images", images, ("local", "upstream")),
        image_overrides={
            role: ref for role, ref in (("chain", image_chain), ("api", image_api), ("wiremock", image_wiremock)) if ref
        },
        gonka_bin=_gonka_bin(gonka_bin),
        gonka_revision=(gonka_revision or "").strip(),
        gonka_cache=str(gonka_cache or "").strip(),
        mlnode_lifecycle=_lifecycle(mlnode_exclusive, mlnode_slow_start),
    )
    _check_combinations(opts)
    return opts


def _chaos_seed(chaos_seed: str | int | None) -> int | None:
    """--chaos-seed as an integer (None when not given)."""
    seed: int | None = None
    if chaos_seed not in (None, ""):
        try:
            seed = int(chaos_seed)  # type: ignore[arg-type]
        except ValueError:
            raise ConfigError(f"--chaos-seed: {chaos_seed!r} is not an integer") from None
    return seed


def _check_combinations(opts: RunOptions) -> None:
    """Refuse options that do not go together (or need a file or binaries that are not there)."""
    if opts.mlnode_lifecycle.exclusive and opts.topology != "single":
        raise ConfigError(
            "--mlnode-exclusive needs --topology single: one WireMock holds an MLNode's shared version state (behind "
            "nginx each version is its own WireMock)"
        )
    entry = backend_entry(opts.backend)
    for field_name, missing in entry.needs:
        if getattr(opts, field_name) is None:
            raise ConfigError(missing)
    if opts.env_file is not None and not opts.env_file.is_file():
        raise ConfigError(f"--env-file: {opts.env_file} does not exist or is not a file")
    if opts.keep_env and entry.keep_env:
        raise ConfigError(f"--keep-env: {entry.keep_env}")


def _lifecycle(exclusive: bool, slow_start: str | float | None) -> MLNodeLifecycle:
    seconds = 0.0
    if slow_start not in (None, ""):
        seconds = positive_float("--mlnode-slow-start", slow_start, minimum=0.0, maximum=MAX_SLOW_START_S)  # type: ignore[arg-type]
    return MLNodeLifecycle(exclusive=bool(exclusive), slow_start_s=seconds)


def _gonka_bin(value: str | Path | None) -> Path | None:
    raw = value or os.environ.get("HARNESS_GONKA_BIN") or ""
    if not str(raw).strip():
        return None
    path = Path(str(raw)).expanduser()
    if not path.is_dir():
        raise ConfigError(
            f"--gonka-bin / HARNESS_GONKA_BIN: {raw} is not a directory (want one holding inferenced and decentralized-api)"
        )
    return path.resolve()
