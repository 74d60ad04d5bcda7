"""A series of audited hops under CPU load, to show that a verdict does not change with the machine: each hop's
verdict, first offender, and per participant the clock that judged it, its reaction (block B reached its API node ->
first new-version request, -> old-version stop) and the holds it cost. Not a test: it prints what it measured.

    .venv/bin/python benchmarks/verdict_series.py --testnets 5 --load 6                        # the model, 1 node
    .venv/bin/python benchmarks/verdict_series.py --participants 3 --knobs '{"reaction_ms": 1500}'
    .venv/bin/python benchmarks/verdict_series.py --gonka-bin DIR --participants 3 --testnets 5 --load 8 --out s.jsonl

Each testnet runs the upgrade path of --versions (one hop per step) on a fresh chain; `--load N` keeps N spinning
processes beside the whole series (harness/util/cpuload.py) and every row records the load average when its hop
ended. `--out` appends one JSON line per hop; the summary at the end gives passes, fails, verdict words, the
reaction and hold figures (min / median / max) and the load range.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.backends.factory import TestnetFactory
from harness.drive.hop import HopReport, UpgradeRunner
from harness.options import build_options
from harness.util.cpuload import CpuLoad

STOP_REASONS = ("late_stop", "repeated_stop")


def hop_offenders(hop: HopReport) -> list:
    """The offenders of this hop alone (the audit covers every hop so far): requests while the new version was
    expected, and the old version's missing stop."""
    return [
        o
        for o in hop.audit.offenders
        if o.expected_version == hop.to_version or (o.verdict == "missing_stop" and o.expected_version == hop.from_version)
    ]


def hop_row(hop: HopReport, label: str, testnet: int, nodes: dict[str, list[str]]) -> dict:
    """One JSON row: the hop's verdict and, per participant ({id: its MLNode ids}), its clock, reaction and holds."""
    audit = hop.audit
    k = len(audit.timeline.switches) - 1
    seen = [s for s in audit.switches_seen if s.hop == k]
    parts = {}
    for t in (t for t in audit.timing if t.hop == k):
        mine = [s for s in seen if s.node in set(nodes.get(t.participant, ()))]
        firsts = [s.delay_ms for s in mine if s.delay_ms is not None]
        stops = [s.stop_delay_ms for s in mine if s.stop_delay_ms is not None]
        parts[t.participant] = {
            "clock": t.basis,
            "reaction_ms": min(firsts) if firsts else None,
            "stop_ms": min(stops) if stops else None,
            "held_ms": {h.height: h.held_ms for h in t.holds},
            "hold_outcomes": {h.height: h.outcome for h in t.holds},
            "note": t.note,
        }
    mine = hop_offenders(hop)
    return {
        "config": label,
        "testnet": testnet,
        "hop": f"{hop.from_version}->{hop.to_version}",
        "verdict": "fail" if mine else "pass",
        "first_offender": str(mine[0]) if mine else None,
        "verdicts": sorted({o.verdict + (f"/{o.reason}" if o.reason in STOP_REASONS else "") for o in mine}),
        "participants": parts,
        "user_failures": len(hop.user_failures),
        "hop_s": round(hop.duration_s, 2),
        "load1": round(os.getloadavg()[0], 2),
    }


def run_series(args: argparse.Namespace) -> list[dict]:
    backend = "gonka" if args.gonka_bin else "embedded"
    opts = build_options(backend=backend, gonka_bin=args.gonka_bin, versions=args.versions)
    knobs = json.loads(args.knobs) if args.knobs else None
    label = args.label or (f"{args.gonka_bin or 'model'} {knobs or ''} x{args.participants}").strip()
    rows: list[dict] = []
    root = Path(tempfile.mkdtemp(prefix="verdict-series-"))
    try:
        _series(args, TestnetFactory(opts, root), opts, label, knobs, backend, rows)
    finally:
        shutil.rmtree(root, ignore_errors=True)  # every testnet's folder, gone with the series (also on Ctrl-C)
    return rows


def _series(args: argparse.Namespace, factory: TestnetFactory, opts, label: str, knobs, backend: str, rows: list) -> None:
    """Every testnet of the series: start it, run its hops (each row printed and kept), release it."""
    for n in range(1, args.testnets + 1):
        extra = {"api_overrides": knobs} if knobs and backend == "embedded" else {}
        t0 = time.monotonic()
        tn = factory.make(participants=args.participants, **extra)
        start_s = time.monotonic() - t0
        try:
            runner = UpgradeRunner(tn, progress=lambda m, n=n: print(f"  [{n}] {m}", flush=True), announce_hops=False)
            for version in opts.versions[1:]:
                hop = runner.hop(version)
                nodes = {p.id: p.node_ids for p in tn.participants}
                row = {**hop_row(hop, label, n, nodes), "start_s": round(start_s, 1)}
                rows.append(row)
                print(json.dumps(row), flush=True)
                if args.out:
                    with open(args.out, "a") as f:
                        f.write(json.dumps(row) + "\n")
                if row["verdict"] == "fail" and not args.keep_going_after_fail:
                    break  # the next hop of a node that failed this one says little more
        finally:
            factory.release(tn)


def summary(rows: list[dict]) -> str:
    def span(xs: list[float]) -> str:
        xs = [x for x in xs if x is not None]
        return f"{min(xs)} / {statistics.median(xs):g} / {max(xs)}" if xs else "-"

    verdicts = [r["verdict"] for r in rows]
    words = sorted({w for r in rows for w in r["verdicts"]})
    parts = [p for r in rows for p in r["participants"].values()]
    held = [sum(v for v in p["held_ms"].values() if v is not None) for p in parts]
    return "\n".join([
        f"hops: {len(rows)}   pass: {verdicts.count('pass')}   fail: {verdicts.count('fail')}   verdicts: {words or '-'}",
        f"clocks: {sorted({p['clock'] for p in parts})}",
        f"reaction, block B -> first new-version request (ms, min / median / max): {span([p['reaction_ms'] for p in parts])}",
        f"reaction, block B -> old-version stop (ms): {span([p['stop_ms'] for p in parts])}",
        f"hold cost per participant and hop (ms held): {span(held)}",
        f"hop duration (s): {span([r['hop_s'] for r in rows])}   load average: {span([r['load1'] for r in rows])}",
    ])  # fmt: skip


def _interrupted(*_: object) -> None:
    raise KeyboardInterrupt("SIGTERM")  # the testnet's finally-clauses stop every process it started


def main() -> int:
    signal.signal(signal.SIGTERM, _interrupted)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gonka-bin", help="your real binaries (the gonka backend); default: the embedded model")
    ap.add_argument("--participants", type=int, default=1)
    ap.add_argument("--knobs", help='model API node knobs as JSON, e.g. \'{"reaction_ms": 1500, "switch_offset": 1}\'')
    ap.add_argument("--testnets", type=int, default=5)
    ap.add_argument("--versions", default="v0.3.8,v0.3.9,v0.3.10")
    ap.add_argument("--load", type=int, default=0, help="spinning processes beside the series")
    ap.add_argument("--label", default="")
    ap.add_argument("--out", help="append one JSON line per hop to this file")
    ap.add_argument("--keep-going-after-fail", action="store_true", help="run the next hops of a testnet that failed one")
    args = ap.parse_args()
    with CpuLoad(args.load, max_s=6 * 3600):
        rows = run_series(args)
    print(summary(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
