"""The state file `harness up` writes so later commands (status, upgrade, audit --live, chaos, down) find the
running testnet without flags: endpoints, MLNode journals, PIDs of what it started."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

MAX_STATE_BYTES = 1 << 20
DEFAULT_STATE = Path(os.environ.get("HARNESS_STATE_FILE", Path.home() / ".harness" / "testnet.json"))


def write_state(tn, path: Path | None = None) -> Path:
    path = path or DEFAULT_STATE
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "pid": os.getpid(),
        "backend": tn.info.backend,
        "info": dataclasses.asdict(tn.info),
        "endpoints": dataclasses.asdict(tn.endpoints),
        "mlnodes": [dataclasses.asdict(n) for n in tn.mlnodes],
        "workdir": str(getattr(tn, "workdir", "")),
        "pids": [{**c, "starttime": proc_starttime(c["pid"])} for c in getattr(tn, "child_pids", lambda: [])()],
        "starttime": proc_starttime(os.getpid()),
    }
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
