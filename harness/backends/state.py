"""The state file `harness up` writes so later commands (status, upgrade, audit --live, chaos, down) find the
running testnet without flags: endpoints, MLNode journals, and what `harness down` needs to prove a process or a
directory is the harness's before touching it: each process's pid, start time (/proc/PID/stat field 22) and command
line, the temp workdir with the token of the marker file `harness up` put in it, and the participants (each with
its API node, MLNodes and validator key: `harness upgrade` votes with all of them, `harness audit --live` audits all
of them)."""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import tempfile
from pathlib import Path

MAX_STATE_BYTES = 1 << 20
DEFAULT_STATE = Path(os.environ.get("HARNESS_STATE_FILE", Path.home() / ".harness" / "testnet.json"))


def write_state(tn, path: Path | None = None, *, workdir_token: str = "") -> Path:
    """Record the testnet; `workdir_token` when `harness up` created the workdir (see make_temp_workdir)."""
    path = path or DEFAULT_STATE
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
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


def read_state(path: Path | None = None) -> dict:
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


def clear_state(path: Path | None = None) -> None:
    """Remove the state file and the env file `harness up` wrote next to it."""
    path = path or DEFAULT_STATE
    path.unlink(missing_ok=True)
    path.with_suffix(".env").unlink(missing_ok=True)


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


def proc_identity(pid: int) -> dict:
    """What identifies one process across pid reuse: {"pid", "starttime", "cmdline"}."""
    return {"pid": pid, "starttime": proc_starttime(pid), "cmdline": proc_cmdline(pid)}


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
