"""A cache of serving real testnets: the first start for a set of binaries runs genesis and the first PoC epoch once
and keeps a snapshot; every later testnet of those binaries starts from a copy and serves at once.

    cache = SnapshotCache.from_options(opts)            # --gonka-cache DIR, HARNESS_GONKA_CACHE; "off" disables it
    key = cache.key(bins, params, nodes=..., versions=..., topology=..., participants=1)
    with cache.locked(key):
        snap = cache.get(key)                           # Snapshot or None
        ...                                             # cold start, then cache.put(key, gen_dir, meta)

A snapshot is the testnet's generation directory (chain homes, the API nodes' config and state, their private /root
with the NATS store) taken while every process was stopped, plus `meta.json`: what a restore needs (keys, denom, the
API nodes' ports, the height it was taken at). The API nodes' ports are kept because each public URL is registered
on chain; every other port (chain listeners, mocks, NATS) is allocated anew and written into the copy. The key is the
sha256 of both binaries and of everything that shapes the genesis (chain parameters, MLNodes, versions, topology,
participants) plus the pytest-xdist worker (each worker its own snapshot: the fixed API ports never meet). A snapshot
whose API ports are taken, or whose restore fails, is not used: the testnet starts cold and says why.

The cache lives in `~/.cache/gonka-upgrade-harness/snapshots` unless named; `harness cache list|clear` shows and
removes it. Snapshots are a few hundred MB each; nothing of them is ever inside the repository.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, HarnessError, StartupError

DEFAULT_DIR = Path("~/.cache/gonka-upgrade-harness/snapshots")
META = "meta.json"
FORMAT = 1  # bumped when what a snapshot holds changes; older ones are not used


@dataclass(frozen=True)
class Snapshot:
    path: Path  # the directory: gen/ (a generation directory) and meta.json
    meta: dict[str, Any]

    @property
    def gen(self) -> Path:
        return self.path / "gen"

    def describe(self) -> str:
        age_s = time.time() - float(self.meta.get("created", 0))
        return f"snapshot {self.path.name} (height {self.meta.get('height')}, made {age_s / 60:.0f} min ago)"


class SnapshotCache:
    def __init__(self, root: Path | None) -> None:
        self.root = root.expanduser().resolve() if root is not None else None

    @classmethod
    def from_options(cls, value: str | Path | None) -> SnapshotCache:
        """`--gonka-cache DIR` / HARNESS_GONKA_CACHE; "off" (or "0", "no") disables the cache."""
        raw = str(value or os.environ.get("HARNESS_GONKA_CACHE") or "").strip()
        if raw.lower() in ("off", "0", "no", "false"):
            return cls(None)
        return cls(Path(raw) if raw else DEFAULT_DIR)

    @property
    def enabled(self) -> bool:
        return self.root is not None

    def key(self, bins: Any, params: Any, **shape: Any) -> str:
        """sha256 over both binaries, the chain parameters, what else shapes the genesis, and the xdist worker."""
        parts = {
            "format": FORMAT,
            "binaries": {name: info.sha256 for name, info in sorted(bins.info.items())},
            "params": asdict(params),
            "shape": {k: repr(v) for k, v in sorted(shape.items())},
            "worker": os.environ.get("PYTEST_XDIST_WORKER", ""),
        }
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:24]

    def _dir(self, key: str) -> Path:
        if self.root is None:
            raise ConfigError("the snapshot cache is off (--gonka-cache off)")
        return self.root / key

    @contextlib.contextmanager
    def locked(self, key: str) -> Iterator[None]:
        """One process at a time makes or restores the snapshot of a key (others wait, then find it made)."""
        assert self.root is not None
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / f"{key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def get(self, key: str) -> Snapshot | None:
        d = self._dir(key)
        try:
            meta = json.loads((d / META).read_text())
        except (OSError, ValueError):
            return None
        if meta.get("format") != FORMAT or not (d / "gen").is_dir():
            return None
        return Snapshot(d, meta)

    def put(self, key: str, gen: Path, meta: dict[str, Any]) -> Snapshot:
        """Copy a stopped testnet's generation directory in (atomically: a half-made snapshot is never found)."""
        d = self._dir(key)
        tmp = d.with_name(f"{d.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        copy_tree(gen, tmp / "gen")
        (tmp / META).write_text(json.dumps({**meta, "format": FORMAT, "created": time.time()}, indent=1))
        shutil.rmtree(d, ignore_errors=True)
        tmp.rename(d)
        return Snapshot(d, json.loads((d / META).read_text()))

    def list(self) -> list[Snapshot]:
        if self.root is None or not self.root.is_dir():
            return []
        found = (self.get(p.name) for p in sorted(self.root.iterdir()) if p.is_dir() and ".tmp-" not in p.name)
        return [s for s in found if s is not None]

    def clear(self) -> int:
        """Remove every snapshot (and half-made ones); returns how many directories went."""
        if self.root is None or not self.root.is_dir():
            return 0
        gone = 0
        for p in self.root.iterdir():
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
                gone += 1
            elif p.suffix == ".lock":
                p.unlink(missing_ok=True)
        return gone


def start_with_cache(
    cache: SnapshotCache,
    key: str,
    *,
    cold: Callable[[], None],
    warm: Callable[[Snapshot], str | None],
    meta: Callable[[], tuple[Path, dict[str, Any]]],
    stop: Callable[[], None],
    progress: Callable[[str], None],
) -> None:
    """Start from the key's snapshot (`warm` returns None when it serves, else why not); else `cold`, then keep a
    snapshot (`meta` gives the generation directory and what a restore needs, `stop` stops every process) and go on
    from a copy of it, so that what the next start uses is what this one was tested with."""
    with cache.locked(key):
        snap = cache.get(key)
        if snap is not None:
            why = warm(snap)
            if why is None:
                return
            progress(f"not using {snap.describe()}: {why}; starting cold")
        cold()
        progress("taking a snapshot of the serving testnet for the next start")
        gen, data = meta()
        stop()
        snap = cache.put(key, gen, data)
        why = warm(snap)
        if why is not None:
            raise StartupError(f"the snapshot just taken does not start: {why}")


def try_restore(
    snap: Snapshot,
    gen: Path,
    *,
    adopt: Callable[[], None],
    serve: Callable[[], None],
    stop: Callable[[], None],
    progress: Callable[[str], None],
) -> str | None:
    """Copy the snapshot into the generation directory `gen`, `adopt` it (keys, ports), `serve` (start and wait);
    None when it serves, else why not, with everything it started stopped and the copy removed."""
    try:
        copy_tree(snap.gen, gen)
        adopt()
        serve()
    except (HarnessError, OSError) as e:
        stop()
        shutil.rmtree(gen, ignore_errors=True)
        return f"{type(e).__name__}: {str(e)[:300]}"
    progress(f"started from {snap.describe()}")
    return None


def copy_tree(src: Path, dst: Path) -> None:
    """`cp -a`: keeps modes, links and the special files an overlay's upper directory may hold."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["cp", "-a", str(src), str(dst)], capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise OSError(f"cp -a {src} {dst}: {r.stderr.strip()[:300]}")
