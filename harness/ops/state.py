"""The state file `harness up` writes so later commands (status, upgrade, audit --live, chaos, down) find the
running testnet without flags: endpoints, MLNode journals, and what `harness down` needs to prove a process or a
directory is the harness's before touching it: each process's pid, start time (/proc/PID/stat field 22) and command
line, the temp workdir with the token of the marker file `harness up` put in it, and the participants (each with
its API node, MLNodes and validator key: `harness upgrade` votes with all of them, `harness audit --live` audits all
of them).

One testnet per state file: `harness up` claims the file before it starts anything (claim_state: an flock on
`<state file>.lock`, held while it runs and released by the kernel however it ends). A second `harness up` on the same
file is refused naming the first; so is one whose file records a testnet whose processes still run (its
`harness up` was killed: `harness down` first). Each state file records its writer's `owner` token, and a state file
is removed only by its owner (release_state) or by `harness down` after it stopped that very testnet.

Imports inside functions are on purpose here: each `harness` command loads only its own module (harness/cli.py), so
a command pays at start-up only for what it runs."""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import secrets
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import StartupError
from harness.util.process import proc_starttime

if TYPE_CHECKING:
    from harness.backends.base import BaseTestnet

MAX_STATE_BYTES = 1 << 20
DEFAULT_STATE = Path(os.environ.get("HARNESS_STATE_FILE", Path.home() / ".harness" / "testnet.json"))


def write_state(tn: BaseTestnet, path: Path | None = None, *, workdir_token: str = "", owner: str = "") -> Path:
    """Record the testnet; `workdir_token` when `harness up` created the workdir (see make_temp_workdir); `owner` the
    token of the claim (claim_state) that lets only this writer remove the file."""
    if tn.endpoints is None:
        raise StartupError(f"{tn.info.backend} testnet: not started, no endpoints to record in a state file")
    path = path or DEFAULT_STATE
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "owner": owner or secrets.token_hex(16),
        "pid": os.getpid(),
        "backend": tn.info.backend,
        "info": dataclasses.asdict(tn.info),
        "endpoints": dataclasses.asdict(tn.endpoints),
        "mlnodes": [dataclasses.asdict(n) for n in tn.mlnodes],
        "participants": [p.to_dict() for p in getattr(tn, "participants", ())],
        "workdir": str(getattr(tn, "workdir", "")),
        "pids": [{**c, **proc_identity(c["pid"])} for c in getattr(tn, "child_pids", lambda: [])()],
        **proc_identity(os.getpid()),
    }
    if workdir_token:
        data["workdir_token"] = workdir_token
    keyring = getattr(tn, "keyring_file", None)
    if callable(keyring):  # the gonka backend: its chain's test keys, for `harness upgrade --from genesis`
        data["keyring"] = str(keyring())
    labels = getattr(tn, "labels", None)
    if isinstance(labels, dict):  # docker backend: containers to reap by label
        data["docker_labels"] = labels
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)
    return path


def read_state(path: Path | None = None) -> dict[str, Any]:
    from harness.errors import ConfigError
    from harness.validate import shown

    path = path or DEFAULT_STATE
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_STATE_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"no running testnet recorded at {path}; start one with `harness up` or pass --env-file") from None
    except OSError as e:
        raise ConfigError(f"state file {path}: cannot read it ({e.strerror or e}); pass --state-file FILE") from None
    if len(raw) > MAX_STATE_BYTES:
        raise ConfigError(f"state file {path} is larger than {MAX_STATE_BYTES} bytes: not one `harness up` wrote")
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError is a ValueError
        raise ConfigError(f"state file {path} is corrupt ({shown(str(e))}); remove it or run `harness down`") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"state file {path} is corrupt (a JSON {type(doc).__name__}, not an object); remove it")
    return doc


def clear_state(path: Path | None = None, *, owner: str | None = None) -> bool:
    """Remove the state file and the env file `harness up` wrote next to it; with `owner`, only when the file still
    records that owner (another testnet's file is left alone). True when removed."""
    path = path or DEFAULT_STATE
    if owner is not None and path.exists() and recorded_owner(path) != owner:
        return False
    path.unlink(missing_ok=True)
    path.with_suffix(".env").unlink(missing_ok=True)
    return True


def recorded_owner(path: Path) -> str | None:
    try:
        doc = json.loads(path.read_bytes()[: MAX_STATE_BYTES + 1])
    except (OSError, ValueError, RecursionError):
        return None
    owner = doc.get("owner") if isinstance(doc, dict) else None
    return owner if isinstance(owner, str) else None


@dataclass
class StateClaim:
    """The right to run one testnet on `path`, held by `harness up` from before it starts anything until it exits."""

    path: Path
    owner: str
    fd: int

    @property
    def lock_path(self) -> Path:
        return lock_path_of(self.path)

    def release(self) -> None:
        """Remove this testnet's state and env files (never another's), then give the claim up."""
        if self.fd < 0:
            return
        clear_state(self.path, owner=self.owner)
        try:  # unlinked while still locked: a claimer that opened the old file sees it is gone and retries
            if os.fstat(self.fd).st_ino == os.stat(self.lock_path).st_ino:
                self.lock_path.unlink()
        except OSError:
            pass
        os.close(self.fd)
        self.fd = -1


def lock_path_of(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def claim_state(path: Path) -> StateClaim:
    """Claim `path` for one `harness up`, or raise ConfigError naming the testnet that has it."""
    from harness.errors import ConfigError

    path.parent.mkdir(parents=True, exist_ok=True)
    lock = lock_path_of(path)
    for _ in range(100):  # retried only when a releasing owner removed the lock file between our open and flock
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 4096).decode(errors="replace").strip()
            os.close(fd)
            raise ConfigError(
                f"{path} belongs to a testnet that is running ({holder or 'its harness up is starting'}); one "
                f"`harness up` per state file: stop that one with `harness down --state-file {path}` (or Ctrl-C where "
                "it runs), or give this one its own file with --state-file FILE"
            ) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    else:
        raise ConfigError(f"{lock}: could not take the lock (it keeps being replaced); is something removing it?")
    try:
        _refuse_live_orphans(path)
    except BaseException:
        os.close(fd)
        raise
    owner = secrets.token_hex(16)
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
    os.ftruncate(fd, 0)
    os.write(fd, f"harness up pid {os.getpid()}, started {started}".encode())
    return StateClaim(path, owner, fd)


def remove_stale_lock(path: Path) -> bool:
    """`harness down` after a `kill -9` of `harness up`: remove the lock file nobody holds any more (True when it did)."""
    lock = lock_path_of(path)
    try:
        fd = os.open(lock, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return False  # held: a running `harness up` removes it itself
    try:
        if os.fstat(fd).st_ino == os.stat(lock).st_ino:
            lock.unlink()
    except OSError:
        pass
    os.close(fd)
    return True


def _refuse_live_orphans(path: Path) -> None:
    """A state file whose `harness up` is gone but whose processes still run (kill -9): overwriting it would orphan them."""
    from harness.errors import ConfigError

    if not path.exists():
        return
    try:
        doc = read_state(path)
    except ConfigError:
        return  # unreadable: it proves nothing about any process, and `harness down` would only remove it
    records = [doc, *(c for c in doc.get("pids") or [] if isinstance(c, dict))]
    running = [r for r in records if isinstance(r.get("pid"), int) and is_ours(r["pid"], r.get("starttime"), r.get("cmdline"))]
    if running:
        pids = ", ".join(f"{r.get('name', 'harness up')} {r['pid']}" for r in running[:6])
        raise ConfigError(
            f"{path} records a testnet whose processes still run ({pids}) although no `harness up` holds it; "
            f"stop them with `harness down --state-file {path}` first, or give this one its own --state-file FILE"
        )


WORKDIR_MARKER = ".harness-up"


def make_temp_workdir() -> tuple[Path, str]:
    """A new temp directory for `harness up`, with a marker file holding a random token: `harness down` removes the
    directory only when the marker still holds the token the state file recorded."""
    workdir = Path(tempfile.mkdtemp(prefix="harness-"))
    token = secrets.token_hex(16)
    (workdir / WORKDIR_MARKER).write_text(token)
    return workdir, token


def proc_cmdline(pid: int) -> list[str] | None:
    """A live process's argv (/proc/PID/cmdline), None when it does not exist (or is a zombie)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [a.decode(errors="surrogateescape") for a in raw.split(b"\0")[:-1]] if raw else None


def proc_identity(pid: int) -> dict[str, Any]:
    """What identifies one process across pid reuse: {"pid", "starttime", "cmdline"}."""
    return {"pid": pid, "starttime": proc_starttime(pid), "cmdline": proc_cmdline(pid)}


def proc_status(pid: int) -> tuple[str, int] | None:
    """(state letter, uid) of a live process, None when it does not exist."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
        uid = os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()[0], uid


def is_ours(pid: int, starttime: object, cmdline: object) -> bool:
    """Proof that `pid` is the process the state file recorded: same owner, same start time, same command line."""
    if not isinstance(starttime, int) or not isinstance(cmdline, list) or not cmdline:
        return False
    p = proc_status(pid)
    if p is None or p[1] != os.getuid():
        return False
    return proc_starttime(pid) == starttime and proc_cmdline(pid) == cmdline


def keep_testnets(testnets: list[BaseTestnet]) -> list[Path]:
    """--keep-env (docker): record each testnet in a state file for `harness down --state-file`, print it."""
    from harness.util.invocation import cli_command

    cli = cli_command()
    paths = []
    for i, tn in enumerate(testnets):
        path = write_state(tn, DEFAULT_STATE.parent / f"kept-testnet-{os.getpid()}-{i + 1}.json")
        paths.append(path)
        print(
            f"\n[harness --keep-env] testnet left running: {tn.endpoints}\n"
            f"  status: {cli} status --state-file {path}\n  remove: {cli} down --state-file {path}"
        )
    return paths
