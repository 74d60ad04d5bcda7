"""simnet benchmark (not a test): blocks per second at block time 0 with one websocket NewBlock subscriber,
and abci_query latency on loopback. Run: `.venv/bin/python benchmarks/bench_simnet.py [--seconds 3] [--queries 2000]`."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import requests
from websockets.sync.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import proto
from harness.model.simnet import Genesis, Simnet
from harness.util.wait import wait_until


def bench_blocks(seconds: float) -> dict[str, float]:
    with Simnet(Genesis(block_time_s=0.0), port=0) as net, connect(net.ws_url, open_timeout=5, max_size=None) as ws:
        ws.send(json.dumps({"jsonrpc": "2.0", "method": "subscribe", "id": "1", "params": ["tm.event='NewBlock'"]}))
        assert json.loads(ws.recv(timeout=5))["result"] == {}
        h0, t0, events = net.height, time.monotonic(), 0
        first = last = None
        deadline = t0 + seconds
        while time.monotonic() < deadline:
            msg = json.loads(ws.recv(timeout=5))
            h = int(msg["result"]["data"]["value"]["block"]["header"]["height"])
            first = h if first is None else first
            last, events = h, events + 1
        elapsed = time.monotonic() - t0
        produced = net.height - h0
    gaps = (last - first + 1) - events if first is not None and last is not None else 0
    return {"blocks_per_s": produced / elapsed, "events_per_s": events / elapsed, "missed_events": gaps}


def bench_queries(count: int) -> dict[str, float]:
    with Simnet(Genesis(block_time_s=0.2), port=0) as net, requests.Session() as s:
        wait_until(lambda: net.height >= 1, timeout_s=10, what="first block")
        body = {"jsonrpc": "2.0", "id": 1, "method": "abci_query", "params": {"path": proto.Q_MLNODE_VERSION, "data": ""}}
        lat = []
        for _ in range(count):
            t = time.perf_counter()
            r = s.post(net.rpc_url, json=body, timeout=5)
            lat.append((time.perf_counter() - t) * 1000)
            assert r.json()["result"]["response"]["code"] == 0
    lat.sort()
    return {
        "p50_ms": statistics.median(lat),
        "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))],
        "qps": count / (sum(lat) / 1000),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=3.0, help="duration of the block-rate run (s)")
    ap.add_argument("--queries", type=int, default=2000, help="number of sequential abci_query calls")
    args = ap.parse_args()
    if not (0.5 <= args.seconds <= 60 and 10 <= args.queries <= 100_000):
        ap.error("--seconds must be in [0.5, 60] and --queries in [10, 100000]")
    b = bench_blocks(args.seconds)
    q = bench_queries(args.queries)
    rows = [
        ("blocks/s at block time 0 (1 ws subscriber)", f"{b['blocks_per_s']:.0f}"),
        ("NewBlock events/s received by the subscriber", f"{b['events_per_s']:.0f}"),
        ("NewBlock events missed by the subscriber", f"{b['missed_events']:.0f}"),
        (f"abci_query MLNodeVersion p50 ({args.queries} calls)", f"{q['p50_ms']:.2f} ms"),
        ("abci_query MLNodeVersion p99", f"{q['p99_ms']:.2f} ms"),
        ("abci_query sequential throughput", f"{q['qps']:.0f} /s"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'metric':<{width}}  value")
    print(f"{'-' * width}  -----")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
