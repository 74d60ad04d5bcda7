"""Supervised child processes: own process group, log captured to a file, readiness with evidence,
teardown that also runs on failure, Ctrl-C and interpreter exit.

    with ManagedProcess(["java", "-jar", jar], name="wiremock-1", log_path=p) as proc:
        proc.wait_ready(lambda: port_is_listening(port), timeout_s=20, what="WireMock admin API")
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Self

from harness.errors import StartupError, WaitTimeout
from harness.util.service import StartStop
from harness.util.wait import wait_until

_LIVE: set[ManagedProcess] = set()
_LIVE_LOCK = threading.Lock()


def _reap_all() -> None:
    with _LIVE_LOCK:
        procs = list(_LIVE)
    for p in procs:
        p.stop()


atexit.register(_reap_all)


def live_processes() -> list[ManagedProcess]:
    """Processes started through ManagedProcess and not yet stopped (used by leak checks)."""
    with _LIVE_LOCK:
        return [p for p in _LIVE if p.is_running()]


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (signal 0; a process of another user counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def tail(path: Path | str, lines: int = 40) -> str:
    try:
        data = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(data[-lines:]) if data else "(log empty)"


class ManagedProcess(StartStop):
    """One child process in its own process group, stdout+stderr appended to `log_path`."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        name: str,
        log_path: Path | str,
        env: Mapping[str, str] | None = None,
        cwd: Path | str | None = None,
        stop_timeout_s: float = 5.0,
    ) -> None:
        self.argv = [str(a) for a in argv]
        self.name = name
        self.log_path = Path(log_path)
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.stop_timeout_s = stop_timeout_s
        self.popen: subprocess.Popen[bytes] | None = None
        self.log_start = 0

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> Self:
        if self.popen is not None:
            raise StartupError(f"{self.name}: already started (pid {self.popen.pid})")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.log_start = log.tell()  # the log is appended to: this run's output starts here
        try:
            self.popen = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **self.env} if self.env is not None else None,
                cwd=self.cwd,
                start_new_session=True,
            )
        except FileNotFoundError as e:
            raise StartupError(f"{self.name}: cannot run {self.argv[0]!r}: {e.strerror}") from None
        finally:
            log.close()
        with _LIVE_LOCK:
            _LIVE.add(self)
        return self

    def stop(self) -> int | None:
        """Stop the whole process group: SIGTERM, then SIGKILL after stop_timeout_s. Idempotent."""
        p = self.popen
        if p is None:
            return None
        if p.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                p.wait(self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                p.wait(5)
        self._signal(signal.SIGKILL)  # whatever the leader left behind in its group
        with _LIVE_LOCK:
            _LIVE.discard(self)
        return p.returncode

    def kill(self) -> None:
        """SIGKILL the group at once (simulates a crash)."""
        if self.popen is not None:
            self._signal(signal.SIGKILL)
            self.popen.wait(5)
            with _LIVE_LOCK:
                _LIVE.discard(self)

    def _signal(self, sig: int) -> None:
        assert self.popen is not None
        try:
            os.killpg(self.popen.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    # -- status ----------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def is_running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def exit_reason(self) -> str | None:
        if self.popen is None:
            return "not started"
        rc = self.popen.poll()
        return None if rc is None else f"{self.name} exited with code {rc}"

    def output(self) -> str:
        """What this run wrote to its log so far (a restart appends to the same file); "" if it cannot be read."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self.log_start)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def logs(self, lines: int = 40) -> str:
        return tail(self.log_path, lines)

    def evidence(self) -> str:
        status = self.exit_reason() or f"running (pid {self.pid})"
        return f"process: {' '.join(self.argv)}\nstatus: {status}\nlog {self.log_path} (tail):\n{self.logs()}"

    def wait_ready(self, predicate: Callable[[], object], *, timeout_s: float, what: str, hint: str = "") -> None:
        """Wait until `predicate` holds; fail at once with the log tail if the process dies first."""
        try:
            wait_until(
                predicate,
                timeout_s=timeout_s,
                what=f"{self.name}: {what}",
                abort=self.exit_reason,
                evidence=self.evidence,
                hint=hint,
                interval_s=0.05,
            )
        except WaitTimeout as e:
            raise StartupError(str(e)) from None


def proc_starttime(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat (clock ticks since boot): with the pid it identifies one process, even after pid reuse."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    try:
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (IndexError, ValueError):
        return None
