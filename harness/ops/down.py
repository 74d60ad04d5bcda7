"""`harness down`: tear down what `harness up` started, also after `harness up` itself crashed or was `kill -9`ed.

From the state file: the `harness up` process gets SIGTERM first (it then closes the testnet and removes its temp
workdir itself); whatever is still alive afterwards (simnet, API node, WireMock JVMs, nginx: each leads its own
process group) gets SIGTERM to its group, then SIGKILL after a deadline. A recorded process is signalled only when
`down` can prove it is the one `harness up` started: same owner, and the pid, the start time (/proc/PID/stat field
22) and the command line all as recorded. A state file without them (written by hand, by an older harness, or
tampered with) proves nothing: those processes are left alone and named. The temp workdir `harness up` created is
removed when it is still there, only if it is a directory of ours whose marker file holds the token the state file
recorded (a directory given with --workdir is never removed). Docker backends: containers, networks and volumes
carrying the recorded labels are reaped. The state file is removed. Idempotent: with no state file it says there is
nothing to stop and exits 0.

Imports inside functions are on purpose here: each `harness` command loads only its own module (harness/cli.py), so
a command pays at start-up only for what it runs."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.ops.state import WORKDIR_MARKER, clear_state, is_ours, proc_status, read_state, remove_stale_lock
from harness.util.wait import wait_until

UP_EXIT_TIMEOUT_S = 20.0
GROUP_TERM_TIMEOUT_S = 5.0


@dataclass
class Stopped:
    name: str
    pid: int
    result: str  # stopped | killed | gone | not-ours | unproven


def alive(pid: int) -> bool:
    p = proc_status(pid)
    return p is not None and p[0] not in ("Z", "X")


def _valid_pid(pid: object) -> bool:
    return isinstance(pid, int) and not isinstance(pid, bool) and 1 < pid <= 2**22 and pid not in (os.getpid(), os.getppid())


def _signal(pid: int, sig: int, *, group: bool) -> None:
    try:
        if group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _leads_its_group(pid: int) -> bool:
    try:
        return os.getpgid(pid) == pid
    except (ProcessLookupError, PermissionError):
        return False


def _stop(name: str, pid: int, starttime: object, cmdline: object, *, group: bool, timeout_s: float) -> Stopped:
    if not alive(pid):
        return Stopped(name, pid, "gone")
    if not isinstance(starttime, int) or not isinstance(cmdline, list):
        return Stopped(name, pid, "unproven")
    if not is_ours(pid, starttime, cmdline):
        return Stopped(name, pid, "not-ours")
    # The group is signalled only when the proven process leads it (our children start their own sessions); its id
    # cannot be handed to another group while a member of this one lives, so the SIGKILL below reaches only ours.
    group = group and _leads_its_group(pid)
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
    if _valid_pid(main):
        results.append(
            _stop("harness up", main, st.get("starttime"), st.get("cmdline"), group=False, timeout_s=UP_EXIT_TIMEOUT_S)
        )
    children = st.get("pids") if isinstance(st.get("pids"), list) else []
    for c in children[:256]:
        if isinstance(c, dict) and _valid_pid(c.get("pid")):
            name = str(c.get("name", "?"))[:64]
            results.append(
                _stop(name, c["pid"], c.get("starttime"), c.get("cmdline"), group=True, timeout_s=GROUP_TERM_TIMEOUT_S)
            )
    workdir = remove_workdir(st.get("workdir"), st.get("workdir_token"))
    containers = None
    labels = st.get("docker_labels")
    if isinstance(labels, dict) and labels:
        containers = reap_containers(labels)
    owner = st.get("owner")
    removed = clear_state(path, owner=owner if isinstance(owner, str) else None)  # one started since keeps its file
    remove_stale_lock(path)
    return {
        "state_file": str(path),
        "found": True,
        "backend": st.get("backend"),
        "stopped": [asdict(r) for r in results],
        "workdir": workdir,
        "containers": containers,
        "state_removed": removed,
        "elapsed_s": round(time.monotonic() - t0, 3),
    }


def remove_workdir(workdir: object, token: object) -> dict[str, Any] | None:
    """Remove the temp workdir `harness up` created, when it is provably that one; say what was done."""
    if not isinstance(workdir, str) or not workdir or not isinstance(token, str) or not token:
        return None  # `harness up --workdir DIR` (the user's directory) or an older state file: never removed
    path = Path(workdir)
    try:
        info = path.lstat()
    except FileNotFoundError:
        return {"path": workdir, "result": "gone"}
    except OSError:
        info = None
    marker = ""
    if info is not None and stat.S_ISDIR(info.st_mode):  # a real directory, not a symlink to one
        try:
            with open(path / WORKDIR_MARKER) as f:
                marker = f.read(100)
        except (OSError, UnicodeDecodeError):
            marker = ""
    if info is None or not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or marker != token:
        return {"path": workdir, "result": "kept: not provably the temp dir `harness up` made (marker missing or different)"}
    shutil.rmtree(path, ignore_errors=True)
    return {"path": workdir, "result": "removed" if not path.exists() else "partly removed"}


def reap_containers(labels: dict[str, str]) -> dict[str, Any]:
    try:
        from harness.backends.docker.util import docker_available, reap
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
            "not-ours": "pid now belongs to another process (start time or command line differ): left alone",
            "unproven": "the state file does not record its start time and command line: left alone",
        }[s["result"]]
        lines.append(f"  {s['name']:<24} pid {s['pid']:<8} {what}")
    if out.get("workdir"):
        lines.append(f"  workdir {out['workdir']['path']}: {out['workdir']['result']}")
    if out.get("containers"):
        lines.append(f"  docker: {out['containers']}")
    if out.get("state_removed", True):
        lines.append(f"removed {out['state_file']}")
    else:
        lines.append(f"kept {out['state_file']}: another testnet started since wrote it")
    return "\n".join(lines)
