"""Chaos proxy overhead per JSON-RPC call, side by side with direct calls in one run, on loopback.

    .venv/bin/python benchmarks/bench_chaos_proxy.py [--calls 3000] [--json out.json]

A keep-alive http.client connection to the upstream and one through the proxy (no faults installed) make
alternating `abci_query` calls; the script prints p50/p99 of each and of the difference. Target: p50 overhead < 1 ms.
Exit code 1 if the target is missed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import time

from harness.chaos import ChaosProxy
from harness.chaos.testing import RpcUpstream

BODY = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "abci_query", "params": {"path": "/x", "data": "", "height": "0"}})
TARGET_P50_OVERHEAD_MS = 1.0


def _call(conn: http.client.HTTPConnection) -> float:
    t0 = time.perf_counter()
    conn.request("POST", "/", body=BODY, headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    resp.read()
    if resp.status != 200:
        raise RuntimeError(f"unexpected HTTP {resp.status}")
    return (time.perf_counter() - t0) * 1000.0


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def run(calls: int) -> dict[str, float]:
    with RpcUpstream() as up, ChaosProxy(up.url, seed=0) as proxy:
        direct = http.client.HTTPConnection("127.0.0.1", up.port, timeout=10)
        via = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
        for _ in range(200):  # warm-up
            _call(direct)
            _call(via)
        d_ms, p_ms = [], []
        for _ in range(calls):
            d_ms.append(_call(direct))
            p_ms.append(_call(via))
        direct.close()
        via.close()
        conns = {r.conn_id for r in proxy.history()}
    return {
        "calls": calls,
        "direct_p50_ms": _pct(d_ms, 0.50),
        "direct_p99_ms": _pct(d_ms, 0.99),
        "proxy_p50_ms": _pct(p_ms, 0.50),
        "proxy_p99_ms": _pct(p_ms, 0.99),
        "overhead_p50_ms": _pct(p_ms, 0.50) - _pct(d_ms, 0.50),
        "overhead_p99_ms": _pct(p_ms, 0.99) - _pct(d_ms, 0.99),
        "overhead_mean_ms": statistics.fmean(p_ms) - statistics.fmean(d_ms),
        "proxy_connections": len(conns),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--calls", type=int, default=3000)
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args(argv)
    fig = run(args.calls)
    print(f"chaos proxy overhead, {fig['calls']} keep-alive abci_query calls each way, loopback")
    print(f"  direct : p50 {fig['direct_p50_ms']:.3f} ms   p99 {fig['direct_p99_ms']:.3f} ms")
    print(f"  proxy  : p50 {fig['proxy_p50_ms']:.3f} ms   p99 {fig['proxy_p99_ms']:.3f} ms")
    print(
        f"  overhead: p50 {fig['overhead_p50_ms']:.3f} ms   p99 {fig['overhead_p99_ms']:.3f} ms"
        f"   mean {fig['overhead_mean_ms']:.3f} ms"
    )
    met = fig["overhead_p50_ms"] < TARGET_P50_OVERHEAD_MS
    print(f"  target p50 overhead < {TARGET_P50_OVERHEAD_MS} ms: {'met' if met else 'MISSED'}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(fig, f, indent=1)
    return 0 if fig["overhead_p50_ms"] < TARGET_P50_OVERHEAD_MS else 1


if __name__ == "__main__":
    sys.exit(main())
