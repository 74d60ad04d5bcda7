"""Seeded random faults for chaos scenarios, and the proxy-level replay of their decisions.

Replay holds for the same seed, the same faults and the same request sequence. On a full testnet the sequence depends
on timing (block arrival, the healer's ticks), so the replay is proven here with a fixed sequence of calls."""

from __future__ import annotations

from typing import Any

from harness.chaos import ChaosProxy
from harness.chaos.testing import RpcUpstream


def seeded_faults(
    probability: float = 0.2, *, latency_ms: float = 30.0, jitter_ms: float = 20.0, idle_ms: float = 150.0
) -> list[dict[str, Any]]:
    """eof, reset, latency and close_idle, each hitting a chain call (or an idle keep-alive connection) with
    `probability`, decided by the proxy's seeded PRNG. Without a window: give one with ChaosDriver.add(blocks=...)."""
    target = {"kind": "any", "probability": probability}
    return [
        {"fault": "eof", "target": target},
        {"fault": "reset", "target": target},
        {"fault": "latency", "params": {"latency_ms": latency_ms, "jitter_ms": jitter_ms}, "target": target},
        {"fault": "close_idle", "params": {"idle_ms": idle_ms}, "target": target},
    ]


def replay_decisions(seed: int, specs: list[dict[str, Any]], *, calls: int = 120) -> list[tuple[Any, ...]]:
    """Run `calls` JSON-RPC calls one after another through an in-process proxy (seed, specs installed, a window of
    `max_count` = calls) to a small upstream and return the proxy's decision keys. Each call uses its own connection
    (`Connection: close`), so no idle period exists and the event sequence depends only on the calls, not on timing."""
    import http.client
    import json


    methods = ("status", "abci_query", "health", "block")
    with RpcUpstream() as up, ChaosProxy(up.url, seed=seed) as proxy:
        for spec in specs:
            proxy.add_fault({**spec, "window": {"max_count": calls}})
        for i in range(calls):
            body = json.dumps({"jsonrpc": "2.0", "id": i, "method": methods[i % len(methods)], "params": {}})
            conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)
            try:
                conn.request("POST", "/", body, {"Content-Type": "application/json", "Connection": "close"})
                conn.getresponse().read()
            except (ConnectionError, http.client.HTTPException, OSError):
                pass  # eof / reset: the fault did what it claims; the decision is what we compare
            finally:
                conn.close()
        return [d.key() for d in proxy.decisions()]
