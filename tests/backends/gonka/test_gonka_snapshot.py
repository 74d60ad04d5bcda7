"""The snapshot cache of serving real testnets (harness/backends/gonka/snapshot.py), without real binaries: keys,
atomic put, get, list, clear, the "off" switch and the lock. Restoring a real testnet from it is exercised by the
gonka backend's scenarios (`--backend gonka`), which start from a snapshot after their first testnet."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.backends.gonka.genesis import ChainParams
from harness.backends.gonka.snapshot import DEFAULT_DIR, FORMAT, SnapshotCache
from harness.errors import ConfigError


@dataclass
class _Info:
    sha256: str


@dataclass
class _Bins:
    info: dict


BINS = _Bins({"inferenced": _Info("a" * 64), "decentralized-api": _Info("b" * 64)})


def _gen(tmp_path: Path) -> Path:
    gen = tmp_path / "gen-1"
    (gen / "chain" / "home" / "data").mkdir(parents=True)
    (gen / "chain" / "home" / "data" / "blockstore.db").write_text("blocks")
    (gen / "api").mkdir()
    (gen / "api" / "config.yaml").write_text("current_height: 139\n")
    return gen


def test_the_key_changes_with_the_binaries_the_chain_and_the_worker(monkeypatch):
    cache = SnapshotCache(Path("/nowhere"))
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    base = cache.key(BINS, ChainParams(), nodes=("mlnode-1",), participants=1)
    assert cache.key(BINS, ChainParams(), nodes=("mlnode-1",), participants=1) == base
    other_api = _Bins({"inferenced": _Info("a" * 64), "decentralized-api": _Info("c" * 64)})
    assert cache.key(other_api, ChainParams(), nodes=("mlnode-1",), participants=1) != base
    assert cache.key(BINS, ChainParams(epoch_length=80), nodes=("mlnode-1",), participants=1) != base
    assert cache.key(BINS, ChainParams(), nodes=("mlnode-1", "mlnode-2"), participants=1) != base
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    assert cache.key(BINS, ChainParams(), nodes=("mlnode-1",), participants=1) != base


def test_put_get_list_clear(tmp_path):
    cache = SnapshotCache(tmp_path / "cache")
    key = cache.key(BINS, ChainParams(), participants=1)
    assert cache.get(key) is None
    with cache.locked(key):
        snap = cache.put(key, _gen(tmp_path), {"height": 139, "api_ports": {"public": 10001}})
    assert (snap.gen / "chain" / "home" / "data" / "blockstore.db").read_text() == "blocks"
    assert snap.meta["height"] == 139
    assert snap.meta["format"] == FORMAT
    assert cache.get(key) == snap
    assert [s.path.name for s in cache.list()] == [key]
    assert "height 139" in snap.describe()
    assert cache.clear() == 1
    assert cache.list() == []
    assert cache.get(key) is None


def test_a_snapshot_of_another_format_or_half_made_is_not_used(tmp_path):
    cache = SnapshotCache(tmp_path)
    key = "k1"
    snap = cache.put(key, _gen(tmp_path), {"height": 5})
    meta = json.loads((snap.path / "meta.json").read_text())
    (snap.path / "meta.json").write_text(json.dumps({**meta, "format": FORMAT + 1}))
    assert cache.get(key) is None
    (tmp_path / "k2").mkdir()  # a directory without meta.json (a crash before the rename never leaves one, but still)
    assert cache.get("k2") is None
    (tmp_path / "k3.tmp-99").mkdir()
    assert [s.path.name for s in cache.list()] == []


def test_off_and_the_default_location(monkeypatch):
    monkeypatch.delenv("HARNESS_GONKA_CACHE", raising=False)
    assert SnapshotCache.from_options(None).root == DEFAULT_DIR.expanduser().resolve()
    for off in ("off", "0", "no"):
        cache = SnapshotCache.from_options(off)
        assert not cache.enabled
        with pytest.raises(ConfigError, match="--gonka-cache off"):
            cache.get("k")
    monkeypatch.setenv("HARNESS_GONKA_CACHE", "off")
    assert not SnapshotCache.from_options("").enabled


def test_one_process_at_a_time_makes_a_snapshot(tmp_path):
    cache = SnapshotCache(tmp_path)
    order: list[str] = []
    inside = threading.Event()
    release = threading.Event()

    def first() -> None:
        with cache.locked("k"):
            order.append("first in")
            inside.set()
            release.wait(10)
            order.append("first out")

    t = threading.Thread(target=first)
    t.start()
    assert inside.wait(10)
    waiter = threading.Thread(target=lambda: (cache.locked("k").__enter__(), order.append("second in")))
    waiter.start()
    waiter.join(0.3)
    assert waiter.is_alive(), "the second taker must wait for the lock"
    release.set()
    t.join(10)
    waiter.join(10)
    assert order == ["first in", "first out", "second in"]


def test_harness_cache_lists_and_clears(tmp_path):
    import subprocess
    import sys

    cache = SnapshotCache(tmp_path / "c")
    cache.put("k1", _gen(tmp_path), {"height": 7, "mnemonics": {"genesis": "secret words"}, "under_test": "x"})

    def harness(*argv: str) -> tuple[int, str]:
        p = subprocess.run([sys.executable, "-m", "harness", "cache", *argv, "--dir", str(tmp_path / "c")],
                           capture_output=True, text=True, timeout=60)  # fmt: skip
        return p.returncode, p.stdout + p.stderr

    code, out = harness("list", "--json")
    assert code == 0, out
    doc = json.loads(out)
    assert [s["key"] for s in doc["snapshots"]] == ["k1"]
    assert "secret words" not in out, "the test keys stay in the cache, not on the terminal"
    assert harness("clear") == (0, f"{(tmp_path / 'c').resolve()}: removed 1\n")
    assert json.loads(harness("list", "--json")[1])["snapshots"] == []
