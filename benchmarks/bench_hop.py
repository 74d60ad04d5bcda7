"""Benchmark of the upgrade path on the embedded backend (not a test): testnet start, each hop with the time spent
in each of its steps, the chain + API node rebuild, and the demo's whole two-hop path including the start.

    .venv/bin/python benchmarks/bench_hop.py [--runs 2] [--block-time 0.2] [--json]

Targets (issue "Speed"): one hop under 3 s, the two-hop path including testnet start under 10 s, testnet start
under 4 s. Each figure is printed with the machine's load average when it was taken: on a loaded machine every
figure is pessimistic, so compare runs taken side by side. Per hop it also prints what the delivery clock cost
(harness/audit/contracts.py): how long the proxy held blocks B and B+1, and the API node's reaction to block B
(its first new-version request and its old-version stop, from when B reached it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.backends.embedded import EmbeddedTestnet
from harness.drive.hop import UpgradeRunner
from harness.options import RunOptions

STEPS = ("management_before_switch", "schedule", "wait_switch", "wait_past_due", "kick_management", "poc_phase",
         "audit_now")  # fmt: skip


def timed_runner(tn, spent: dict[str, list[float]]) -> UpgradeRunner:
    """An UpgradeRunner whose steps record their wall time in `spent` (the hop's own code is unchanged)."""
    runner = UpgradeRunner(tn)
    for name in STEPS:
        step = getattr(runner, name)

        def wrapped(*a, _step=step, _name=name, **k):
            t0 = time.monotonic()
            try:
                return _step(*a, **k)
            finally:
                spent[_name].append(time.monotonic() - t0)

        setattr(runner, name, wrapped)
    return runner


def run_path(opts: RunOptions, spent: dict[str, list[float]]) -> dict[str, float]:
    """One demo path: start, every hop, a rebuild; returns the figures of this run."""
    out: dict[str, float] = {}
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-hop-") as workdir:  # the testnet's folder, gone with the run
        tn = EmbeddedTestnet(opts, Path(workdir)).start()
        out["start_s"] = time.monotonic() - t0
        with tn:
            _drive_path(tn, opts, spent, out, t0)
    return out


def _drive_path(tn: EmbeddedTestnet, opts: RunOptions, spent: dict[str, list[float]], out: dict[str, float], t0: float) -> None:
    """Every hop of the path on a started testnet, then a rebuild; the figures go into `out`."""
    runner = timed_runner(tn, spent)
    for i, version in enumerate(opts.versions[1:], 1):
        hop = runner.hop(version)
        assert hop.audit.verdict == "pass", hop.audit.to_text()
        out[f"hop{i}_s"] = hop.duration_s
        t, seen = hop.timing(), hop.audit.switches_seen[-1]
        for h in t.holds:
            out[f"hop{i}_held_block_{'B' if h.height == t.switch_height else 'B+1'}_s"] = (h.held_ms or 0) / 1000
        out[f"hop{i}_reaction_first_request_s"] = (seen.delay_ms or 0) / 1000
        out[f"hop{i}_reaction_stop_s"] = (seen.stop_delay_ms or 0) / 1000
    out["path_with_start_s"] = time.monotonic() - t0
    t1 = time.monotonic()
    tn.rebuild_chain()
    out["rebuild_s"] = time.monotonic() - t1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--block-time", type=float, default=0.2)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    opts = RunOptions(block_time_s=args.block_time)
    runs, spent = [], defaultdict(list)
    for _ in range(args.runs):
        load = os.getloadavg()[0]
        runs.append({**run_path(opts, spent), "load": load})
    keys = sorted({k for r in runs for k in r if k != "load"}, key=lambda k: (not k.startswith("start"), k))
    summary = {k: {"median": statistics.median(r[k] for r in runs if k in r), "max": max(r[k] for r in runs if k in r)}
               for k in keys}  # fmt: skip
    steps = {k: {"n": len(v), "mean": statistics.mean(v), "max": max(v)} for k, v in spent.items()}
    loads = [round(r["load"], 2) for r in runs]
    if args.json:
        print(json.dumps({"runs": runs, "summary": summary, "steps": steps, "load": loads}, indent=1))
        return 0
    print(f"{args.runs} runs at block time {args.block_time} s, load average {loads}")
    for k, v in summary.items():
        print(f"  {k:32s} median {v['median']:6.2f} s   max {v['max']:6.2f} s")
    print("time per hop step (the pre-switch management runs before the proposal):")
    for k, v in steps.items():
        print(f"  {k:26s} n={v['n']:2d}  mean {v['mean']:5.2f} s  max {v['max']:5.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
