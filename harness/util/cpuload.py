"""CPU load beside a run, to check that a verdict does not change with the machine's load: `workers` child processes
that each spin on a core, bounded in time, gone with the context (and with their parent: each checks it is alive).
One load at a time on a machine: a second CpuLoad (another pytest-xdist worker, another run) waits until the first
has stopped (at most its max_s; the lock is an flock, so it goes with its process), because two loads at once double
the load a scenario was written for.

    with CpuLoad(workers=8, max_s=300):      # load average about 8 more on this machine while the block runs
        run_the_scenario()

`python -m harness.util.cpuload WORKERS MAX_S` runs the same load in the foreground (Ctrl-C ends it).
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from typing import Self

MAX_WORKERS = 64
MAX_SECONDS = 24 * 3600.0
# One spinning process: a fresh interpreter (nothing inherited from the test process: no threads, no signal
# handlers), bounded by its deadline and by its parent (it stops when the parent pid changes).
_SPIN = """
import os, sys, time
parent, end = int(sys.argv[1]), time.monotonic() + float(sys.argv[2])
x = 0
while time.monotonic() < end and os.getppid() == parent:
    for _ in range(200000):
        x = (x * 1103515245 + 12345) & 0xFFFFFFFF
"""


class CpuLoad:
    def __init__(self, workers: int, *, max_s: float = 600.0) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or not 0 <= workers <= MAX_WORKERS:
            raise ValueError(f"workers: expected 0 to {MAX_WORKERS} spinning processes, got {workers!r}")
        if not 0 < max_s <= MAX_SECONDS:
            raise ValueError(f"max_s: expected a bound in seconds, above 0 and at most {MAX_SECONDS}, got {max_s!r}")
        self.workers, self.max_s = workers, max_s
        self._procs: list[subprocess.Popen[bytes]] = []
        self._lock: int | None = None

    def start(self) -> Self:
        if self._lock is None:
            # this module's own file is the machine-wide lock: always there, nothing left behind
            self._lock = os.open(__file__, os.O_RDONLY)
            fcntl.flock(self._lock, fcntl.LOCK_EX)
        argv = [sys.executable, "-c", _SPIN, str(os.getpid()), str(self.max_s)]
        try:
            for _ in range(self.workers):
                self._procs.append(subprocess.Popen(argv, stdin=subprocess.DEVNULL))
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for p in self._procs:
            p.kill()
        for p in self._procs:
            p.wait(timeout=10)
        self._procs.clear()
        if self._lock is not None:
            os.close(self._lock)  # closing the descriptor releases the flock
            self._lock = None

    @property
    def running(self) -> int:
        return sum(p.poll() is None for p in self._procs)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":  # pragma: no cover - a manual tool
    n, seconds = int(sys.argv[1]), float(sys.argv[2])
    with CpuLoad(n, max_s=seconds) as load:
        print(f"cpu load: {n} spinning processes for at most {seconds:g} s (pid {os.getpid()}); Ctrl-C ends it", flush=True)
        try:
            while load.running:
                time.sleep(1)  # the foreground tool's own pace; nothing waits on it
        except KeyboardInterrupt:
            pass
