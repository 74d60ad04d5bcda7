"""The real Gonka pair under the harness: time from nothing to a signed chat answered, one upgrade hop (propose to
audited), and the memory of the real processes.

    .venv/bin/python benchmarks/bench_gonka.py --gonka-bin ~/gonka-bin/main [--hops 1]

Prints one JSON line per figure. Memory is the resident set of each real process (inferenced, decentralized-api)
read from /proc while the testnet serves, sampled once a second during the hops (peak and last).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from pathlib import Path

from harness.backends.gonka import GonkaTestnet
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
    args = ap.parse_args()
    opts = build_options(backend="gonka", gonka_bin=args.gonka_bin)
    t0 = time.monotonic()
    with GonkaTestnet(opts, Path(tempfile.mkdtemp(prefix="bench-gonka-"))) as tn:
        serving_s = time.monotonic() - t0
        print(
            json.dumps(
                {
                    "figure": "nothing to a signed chat answered",
                    "seconds": round(serving_s, 1),
                    "under_test": tn.info.api_under_test,
                }
            )
        )
        watch = MemoryWatch({p["name"]: p["pid"] for p in tn.child_pids() if p["name"] in ("inferenced", "decentralized-api")})
        watch.start()
        tn.mlnodes_reset()
        runner = UpgradeRunner(tn)
        for version in opts.versions[1 : 1 + args.hops]:
            t1 = time.monotonic()
            hop = runner.hop(version)
            print(
                json.dumps(
                    {
                        "figure": f"one hop to {version}, propose to audited",
                        "seconds": round(time.monotonic() - t1, 1),
                        "verdict": hop.audit.verdict,
                    }
                )
            )
        watch.stop.set()
        watch.join(3)
        print(
            json.dumps(
                {
                    "figure": "resident memory (MB)",
                    "peak": {k: round(v) for k, v in watch.peak.items()},
                    "last": {k: round(v) for k, v in watch.last.items()},
                }
            )
        )


if __name__ == "__main__":
    main()
