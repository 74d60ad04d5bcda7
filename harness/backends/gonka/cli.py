"""`harness cache list|clear [--dir DIR]`: the snapshot cache of serving real testnets (snapshot.py).

Imports inside functions are on purpose here: each `harness` command loads only its own module (harness/cli.py), so
a command pays at start-up only for what it runs."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("cache", help="list or clear the snapshots of serving real testnets (gonka backend)")
    p.add_argument("action", choices=("list", "clear"), help="list the snapshots, or remove every one")
    p.add_argument(
        "--dir", default=None, help="the cache (default $HARNESS_GONKA_CACHE or ~/.cache/gonka-upgrade-harness/snapshots)"
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_cache)


def cmd_cache(args: argparse.Namespace) -> int:
    from harness.backends.gonka.snapshot import SnapshotCache
    from harness.errors import ConfigError

    cache = SnapshotCache.from_options(args.dir)
    if not cache.enabled:
        raise ConfigError("the snapshot cache is off (HARNESS_GONKA_CACHE=off); name a directory with --dir")
    if args.action == "clear":
        gone = cache.clear()
        print(json.dumps({"cache": str(cache.root), "removed": gone}) if args.json else f"{cache.root}: removed {gone}")
        return 0
    snaps = cache.list()
    if args.json:
        shown = [{"key": s.path.name, **{k: v for k, v in s.meta.items() if k != "mnemonics"}} for s in snaps]
        print(json.dumps({"cache": str(cache.root), "snapshots": shown}))
        return 0
    print(f"{cache.root}: {len(snaps)} snapshot(s)")
    for s in snaps:
        print(f"  {s.describe()}: {s.meta.get('under_test', '')}")
    return 0
