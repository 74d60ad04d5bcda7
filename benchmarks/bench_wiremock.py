"""Benchmark: WireMock start time (spawn to admin API ready), one instance and three started concurrently.

.venv/bin/python benchmarks/bench_wiremock.py [ROUNDS]       # prints the figures (default 3 rounds)
.venv/bin/pytest benchmarks/bench_wiremock.py                # the same, as a smoke test

Each instance serves the committed mocks/mlnode mappings (5 files, ~120 stubs). Set HARNESS_WIREMOCK_JAR
to time another jar (e.g. a 3.x standalone jar).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from harness.mlnode.mappings import REPO_MOCKS
from harness.mlnode.wiremock import WireMockServer, start_many, stop_many, wiremock_jar


def start_one(log_dir: Path) -> float:
    with WireMockServer(REPO_MOCKS, name="bench-one", log_dir=log_dir) as wm:
        assert wm.start_s is not None
        return wm.start_s


def start_three(log_dir: Path) -> tuple[float, list[float]]:
    servers = [WireMockServer(REPO_MOCKS, name=f"bench-{i}", log_dir=log_dir) for i in range(3)]
    t0 = time.monotonic()
    try:
        start_many(servers)
        wall = time.monotonic() - t0
        return wall, [s.start_s or 0.0 for s in servers]
    finally:
        stop_many(servers)


def run(rounds: int = 3) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        singles = [start_one(Path(tmp)) for _ in range(rounds)]
        triples = [start_three(Path(tmp)) for _ in range(rounds)]
    return {
        "one_median_s": statistics.median(singles),
        "one_min_s": min(singles),
        "three_concurrent_wall_median_s": statistics.median(w for w, _ in triples),
        "three_concurrent_wall_min_s": min(w for w, _ in triples),
        "three_concurrent_slowest_instance_max_s": max(max(each) for _, each in triples),
    }


def test_wiremock_start_times() -> None:
    figures = run(rounds=1)
    assert figures["one_median_s"] > 0
    assert figures["three_concurrent_wall_median_s"] > 0
    print(figures)


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    print(f"jar: {wiremock_jar().name}, rounds: {n}")
    for k, v in run(n).items():
        print(f"{k:42s} {v:6.2f}")
