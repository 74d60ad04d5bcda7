"""Benchmark of the prefix audit: 100,000 journal entries (target: audit well under one second).

.venv/bin/python benchmarks/bench_audit.py            # prints the figures
.venv/bin/pytest benchmarks/bench_audit.py            # the same under pytest-benchmark
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path

from harness.audit import Switch, SwitchContract, SwitchTimeline, audit, records_from_journal, render_png

N = 100_000
NODES = 4
S1, S2 = 400_000, 800_000
TIMELINE = SwitchTimeline([Switch("v0.3.8", 0), Switch("v0.3.9", S1, height=42), Switch("v0.3.10", S2, height=52)])
CONTRACT = SwitchContract(grace_ms=35_000, stop_old=True)
ENDPOINTS = [
    ("GET", "/api/v1/state"),
    ("GET", "/api/v1/pow/status"),
    ("POST", "/api/v1/inference/up"),
    ("GET", "/health"),
    ("POST", "/v1/chat/completions"),
    ("POST", "/tokenize"),
]


def make_journals(n: int = N, seed: int = 1) -> dict[str, dict]:
    """WireMock-shaped journals, one per node, times spread over 1,200 s, a few stale and unversioned requests."""
    rnd = random.Random(seed)
    per_node: dict[str, list[dict]] = {f"node{i}": [] for i in range(NODES)}
    for k in range(n):
        node = f"node{k % NODES}"
        t = rnd.randrange(0, 1_200_000)
        version = "v0.3.8" if t < S1 else "v0.3.9" if t < S2 else "v0.3.10"  # the version expected at t
        roll = rnd.random()
        if roll < 0.0005:
            version = "v0.3.8"  # occasional stale
        method, path = rnd.choice(ENDPOINTS)
        url = path if roll > 0.9999 else f"/{version}{path}"
        request = {"url": url, "absoluteUrl": "http://127.0.0.1:1" + url, "method": method, "loggedDate": t, "headers": {}}
        per_node[node].append({"id": f"id-{k}", "request": request, "responseDefinition": {"status": 200}, "wasMatched": True})
    for i, node in enumerate(per_node):
        per_node[node].append(
            {"id": f"stop-{i}", "request": {"url": "/v0.3.8/api/v1/stop", "method": "POST", "loggedDate": S1 + 30_000}}
        )
        per_node[node].append(
            {"id": f"stop2-{i}", "request": {"url": "/v0.3.9/api/v1/stop", "method": "POST", "loggedDate": S2 + 30_000}}
        )
    return {node: {"requests": entries, "meta": {"total": len(entries)}} for node, entries in per_node.items()}


def load(journals: dict[str, dict]):
    out = []
    for node, body in journals.items():
        out += records_from_journal(body, mock_id=node)
    return out


def _time(fn, repeat: int = 5) -> tuple[float, float, object]:
    """(best wall s, best CPU s, result): best of `repeat`, since this machine may be shared."""
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return min(walls), min(cpus), result


def test_audit_100k(benchmark):
    records = load(make_journals())
    report = benchmark(audit, records, TIMELINE, CONTRACT)
    assert len(report.records) == N + 2 * NODES
    assert report.counts["stale"] > 0


def main() -> int:
    journals = make_journals()
    for body in journals.values():  # WireMock lists its journal newest first
        body["requests"].sort(key=lambda e: -e["request"]["loggedDate"])
    w_load, c_load, records = _time(lambda: load(journals), repeat=3)
    shuffled = list(records)
    random.Random(2).shuffle(shuffled)
    w_journal, c_journal, _ = _time(lambda: audit(records, TIMELINE, CONTRACT))
    w_audit, c_audit, report = _time(lambda: audit(shuffled, TIMELINE, CONTRACT))
    w_json, _, _ = _time(report.to_json, repeat=3)
    w_text, _, _ = _time(report.to_text, repeat=3)
    with tempfile.TemporaryDirectory() as d:
        render_png(report, TIMELINE, Path(d) / "warm.png")  # the first call pays the matplotlib import
        w_png, c_png, _ = _time(lambda: render_png(report, TIMELINE, Path(d) / "a.png"), repeat=3)
    print(f"records:                   {len(records):,} ({len(report.offenders)} offenders, verdict {report.verdict})")
    print("                          best wall    best CPU")
    print(f"records_from_journal      {w_load * 1000:8.1f} ms  {c_load * 1000:8.1f} ms")
    print(f"audit (journal order)     {w_journal * 1000:8.1f} ms  {c_journal * 1000:8.1f} ms")
    print(f"audit (shuffled)          {w_audit * 1000:8.1f} ms  {c_audit * 1000:8.1f} ms")
    print(f"to_json                   {w_json * 1000:8.1f} ms")
    print(f"to_text                   {w_text * 1000:8.1f} ms")
    print(f"render_png                {w_png * 1000:8.1f} ms  {c_png * 1000:8.1f} ms")
    return 0 if max(w_audit, w_journal) < 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
