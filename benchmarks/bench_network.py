"""Benchmark: a network of participants on the embedded backend.

- the upgrade path (v0.3.8 -> v0.3.9 -> v0.3.10, each hop: traffic to every participant, management kicks and a PoC
  cycle on every participant, propose + vote with every validator, audit) with 3 participants and with 1, alternating
  in one run so both see the same machine load;
- start time and memory per participant for N = 1..MAX_N participants, idle after start, and the memory per
  participant after the 3-participant upgrade path (journals full).

Memory is read from /proc: RSS and PSS (shared pages split between the processes sharing them) of each participant's
processes: its API node (Python) and its WireMock MLNode mock (a JVM); the chain (simnet) is listed apart.

.venv/bin/python benchmarks/bench_network.py [ROUNDS] [MAX_N]     # default 2 rounds, N up to 5
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from harness.backends.embedded import EmbeddedTestnet
from harness.drive.assertions import hop_problems
from harness.drive.hop import UpgradeRunner
from harness.options import RunOptions


def _kib(pid: int, field: str, path: str) -> int:
    for line in Path(f"/proc/{pid}/{path}").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(f"{field} not in /proc/{pid}/{path}")


def memory_mib(tn: EmbeddedTestnet) -> dict[str, tuple[float, float]]:
    """{participant id or "chain": (RSS MiB, PSS MiB)} of the running processes."""
    out: dict[str, tuple[float, float]] = {}
    groups = {m.id: [svc for _, svc in m.processes()] for m in tn.members}
    groups["chain"] = [tn.simnet]
    for name, services in groups.items():
        rss = pss = 0
        for svc in services:
            proc = getattr(svc, "proc", None)
            if proc is not None and proc.pid is not None and proc.is_running():
                rss += _kib(proc.pid, "VmRSS", "status")
                pss += _kib(proc.pid, "Pss", "smaps_rollup")
        out[name] = (rss / 1024, pss / 1024)
    return out


def per_participant(mem: dict[str, tuple[float, float]]) -> tuple[float, float]:
    parts = [v for k, v in mem.items() if k != "chain"]
    return statistics.mean(r for r, _ in parts), statistics.mean(p for _, p in parts)


def upgrade_path(n: int, workdir: Path) -> dict[str, float]:
    opts = RunOptions()
    t0 = time.monotonic()
    with EmbeddedTestnet(opts, workdir, participants=n) as tn:
        started = time.monotonic() - t0
        runner = UpgradeRunner(tn)
        t1 = time.monotonic()
        for version in opts.versions[1:]:
            hop = runner.hop(version)
            problems = hop_problems(hop, tn)
            if problems:
                raise AssertionError(f"{n} participants, hop to {version}:\n" + "\n".join(problems))
        path = time.monotonic() - t1
        rss, pss = per_participant(memory_mib(tn))
    return {"start_s": started, "path_s": path, "rss": rss, "pss": pss}


def idle(n: int, workdir: Path) -> dict[str, float]:
    t0 = time.monotonic()
    with EmbeddedTestnet(RunOptions(), workdir, participants=n) as tn:
        started = time.monotonic() - t0
        mem = memory_mib(tn)
    rss, pss = per_participant(mem)
    return {"start_s": started, "rss": rss, "pss": pss, "chain_rss": mem["chain"][0]}


def main(rounds: int = 2, max_n: int = 5) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        paths: dict[int, list[dict]] = {1: [], 3: []}
        for r in range(rounds):
            for n in (3, 1) if r % 2 else (1, 3):
                paths[n].append(upgrade_path(n, root / f"path-{n}-{r}"))
        print("upgrade path v0.3.8 -> v0.3.9 -> v0.3.10 (2 hops, every hop audited), alternating runs:")
        for n, runs in paths.items():
            times = ", ".join(f"{x['path_s']:.1f}" for x in runs)
            mem = ", ".join(f"{x['rss']:.0f}/{x['pss']:.0f}" for x in runs)
            starts = ", ".join(f"{x['start_s']:.1f}" for x in runs)
            print(f"  {n} participant(s): path {times} s; start {starts} s; per participant after the path RSS/PSS {mem} MiB")
        print(f"start and idle memory per participant (API node + WireMock mock), N = 1..{max_n}:")
        for n in range(1, max_n + 1):
            x = idle(n, root / f"idle-{n}")
            print(f"  N={n}: start {x['start_s']:.1f} s, per participant RSS {x['rss']:.0f} MiB / PSS {x['pss']:.0f} MiB, "
                  f"chain RSS {x['chain_rss']:.0f} MiB")  # fmt: skip


def test_bench_network_smoke(tmp_path):
    """`pytest benchmarks/bench_network.py`: one 2-participant start with its memory read (no timing asserted)."""
    x = idle(2, tmp_path)
    assert x["rss"] > 0
    assert x["pss"] > 0


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2, int(sys.argv[2]) if len(sys.argv) > 2 else 5)
