"""`harness down`: tear down what `harness up` started, also after `harness up` itself crashed or was `kill -9`ed.

From the state file: the `harness up` process gets SIGTERM first (it then closes the testnet itself); whatever
is still alive afterwards (simnet, API node, WireMock JVMs, nginx: each leads its own process group) gets SIGTERM
to its group, then SIGKILL after a deadline. A recorded pid is only signalled if it is still the same process:
same owner, same start time (/proc/PID/stat field 22) when recorded, and a command line naming a harness part.
Docker backends: containers, networks and volumes carrying the recorded labels are reaped. The state file is
removed. Idempotent: with no state file it says there is nothing to stop and exits 0.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.backends.state import clear_state, proc_starttime, read_state
from harness.util.wait import wait_until

OURS = ("harness", "wiremock", "nginx", "simnet", "apinode", "java")
UP_EXIT_TIMEOUT_S = 20.0
GROUP_TERM_TIMEOUT_S = 5.0


@dataclass
class Stopped:
    name: str
    pid: int
    result: str  # stopped | killed | gone | not-ours


def _proc(pid: int) -> tuple[str, str, int] | None:
    """(state letter, cmdline, uid) of a live process, None when it does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        uid = os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0], cmd, uid


def alive(pid: int) -> bool:
    p = _proc(pid)
    return p is not None and p[0] not in ("Z", "X")


def is_ours(pid: int, starttime: int | None) -> bool:
    p = _proc(pid)
    if p is None or p[2] != os.getuid():
        return False
    if starttime is not None:
        return proc_starttime(pid) == starttime
    return any(word in p[1] for word in OURS)


def _signal(pid: int, sig: int, *, group: bool) -> None:
    try:
        if group and os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _stop(name: str, pid: int, starttime: int | None, *, group: bool, timeout_s: float) -> Stopped:
    if not alive(pid):
        return Stopped(name, pid, "gone")
    if not is_ours(pid, starttime):
        return Stopped(name, pid, "not-ours")
    _signal(pid, signal.SIGTERM, group=group)
    try:
        wait_until(lambda: not alive(pid), timeout_s=timeout_s, interval_s=0.05, what=f"{name} (pid {pid}) to exit")
        result = "stopped"
    except TimeoutError:
        result = "killed"
    if group:
        _signal(pid, signal.SIGKILL, group=True)  # what the leader left behind in its group (nginx workers)
    elif alive(pid):
        _signal(pid, signal.SIGKILL, group=False)
    wait_until(lambda: not alive(pid), timeout_s=5.0, interval_s=0.05, what=f"{name} (pid {pid}) gone after SIGKILL")
    return Stopped(name, pid, result)


def down(path: Path) -> dict[str, Any]:
    t0 = time.monotonic()
    if not path.exists():
        return {"state_file": str(path), "found": False, "stopped": [], "containers": None, "elapsed_s": 0.0}
    try:
        st = read_state(path)
    except Exception as e:  # a corrupt file: nothing to act on, remove it so the next `harness up` starts clean
        clear_state(path)
        return {"state_file": str(path), "found": True, "error": str(e), "stopped": [], "containers": None, "elapsed_s": 0.0}
    results: list[Stopped] = []
    main = st.get("pid")
    if isinstance(main, int) and main != os.getpid():
        results.append(_stop("harness up", main, st.get("starttime"), group=False, timeout_s=UP_EXIT_TIMEOUT_S))
    for c in st.get("pids") or []:
        if isinstance(c, dict) and isinstance(c.get("pid"), int):
            results.append(
                _stop(str(c.get("name", "?")), c["pid"], c.get("starttime"), group=True, timeout_s=GROUP_TERM_TIMEOUT_S)
            )
    containers = None
    labels = st.get("docker_labels")
    if isinstance(labels, dict) and labels:
        containers = reap_containers(labels)
    clear_state(path)
    return {
        "state_file": str(path),
        "found": True,
        "backend": st.get("backend"),
        "stopped": [asdict(r) for r in results],
        "containers": containers,
        "elapsed_s": round(time.monotonic() - t0, 3),
    }


def reap_containers(labels: dict[str, str]) -> dict[str, Any]:
    try:
        from harness.backends.docker_util import docker_available, reap
    except ImportError as e:
        return {"error": f"docker helpers unavailable: {e}"}
    why = docker_available()
    if why:
        return {"error": why}
    removed = reap(labels)
    return {"containers": removed.containers, "networks": removed.networks, "volumes": removed.volumes}


def render(out: dict[str, Any]) -> str:
    if not out["found"]:
        return f"no testnet recorded at {out['state_file']}; nothing to stop"
    lines = [f"state file {out['state_file']} ({out.get('backend') or '?'} backend)"]
    if out.get("error"):
        lines.append(f"  state file was unreadable ({out['error']}); removed it")
    for s in out["stopped"]:
        what = {
            "stopped": "stopped",
            "killed": "killed (did not exit on SIGTERM)",
            "gone": "already gone",
            "not-ours": "pid now belongs to another process: left alone",
        }[s["result"]]
        lines.append(f"  {s['name']:<24} pid {s['pid']:<8} {what}")
    if out.get("containers"):
        lines.append(f"  docker: {out['containers']}")
    lines.append(f"removed {out['state_file']}")
    return "\n".join(lines)
