"""The real Gonka pair under the harness: time from nothing to a signed chat answered, cold (genesis and the first
PoC epoch) and warm (from the snapshot the cold start kept), one upgrade hop (propose to audited), and the memory of
the real processes.

    .venv/bin/python benchmarks/bench_gonka.py --gonka-bin ~/gonka-bin/main [--hops 1] [--participants 3] [--warm 2]

Prints one JSON line per figure. The cold start uses a fresh, empty snapshot cache (removed at the end); each of the
`--warm` starts after it starts from the snapshot it kept, side by side in the same run. Memory is the resident set
of each real process (inferenced, decentralized-api) read from /proc while the testnet serves, sampled once a second
during the hops (peak and last).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

from harness.backends.factory import TestnetFactory
from harness.drive.hop import UpgradeRunner
from harness.options import build_options


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class MemoryWatch(threading.Thread):
    def __init__(self, pids: dict[str, int]) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.peak = dict.fromkeys(pids, 0.0)
        self.last = dict.fromkeys(pids, 0.0)
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(1.0):
            for name, pid in self.pids.items():
                try:
                    self.last[name] = rss_mb(pid)
                except OSError:
                    continue
                self.peak[name] = max(self.peak[name], self.last[name])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gonka-bin", required=True)
    ap.add_argument("--hops", type=int, default=1, help="upgrade hops to time (1 or 2)")
    ap.add_argument("--participants", type=int, default=1)
    ap.add_argument("--warm", type=int, default=1, help="warm starts (from the cold start's snapshot) to time")
    args = ap.parse_args()
    cache = Path(tempfile.mkdtemp(prefix="bench-gonka-cache-"))
    off = build_options(backend="gonka", gonka_bin=args.gonka_bin, gonka_cache="off")
    on = off.with_(gonka_cache=str(cache))
    runs = [("cold, no cache", off, args.hops), ("cold, keeps a snapshot", on, 0), *[("warm", on, 0)] * args.warm]
    try:
        for kind, opts, hops in runs:
            run_one(opts, args, kind, hops=hops)
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def run_one(opts, args, kind: str, *, hops: int) -> None:
    t0 = time.monotonic()
    factory = TestnetFactory(opts, Path(tempfile.mkdtemp(prefix="bench-gonka-")))
    tn = factory.make(participants=args.participants)
    serving_s = time.monotonic() - t0
    print(json.dumps({"figure": f"nothing to a signed chat answered ({kind}, {args.participants} participant(s))",
                      "seconds": round(serving_s, 1), "load": round(os.getloadavg()[0], 1),
                      "under_test": tn.info.api_under_test}), flush=True)  # fmt: skip
    try:
        if hops:
            hop_figures(tn, opts, hops)
    finally:
        factory.close_all()
        shutil.rmtree(factory.root, ignore_errors=True)


def hop_figures(tn, opts, hops: int) -> None:
    names = ("inferenced", "decentralized-api")
    watch = MemoryWatch({p["name"]: p["pid"] for p in tn.child_pids() if p["name"] in names})
    watch.start()
    tn.mlnodes_reset()
    runner = UpgradeRunner(tn)
    for version in opts.versions[1 : 1 + hops]:
        t1 = time.monotonic()
        hop = runner.hop(version)
        figure = {"figure": f"one hop to {version}, propose to audited", "seconds": round(time.monotonic() - t1, 1)}
        print(json.dumps({**figure, "verdict": hop.audit.verdict}), flush=True)
    watch.stop.set()
    watch.join(3)
    memory = {"peak": {k: round(v) for k, v in watch.peak.items()}, "last": {k: round(v) for k, v in watch.last.items()}}
    print(json.dumps({"figure": "resident memory (MB)", **memory}), flush=True)


if __name__ == "__main__":
    main()
