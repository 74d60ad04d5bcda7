"""The state file `harness up` writes so later commands (status, upgrade, audit --live, chaos, down) find the
running testnet without flags: endpoints, MLNode journals, PIDs of what it started."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

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
        "pids": getattr(tn, "child_pids", lambda: [])(),
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)
    return path


def read_state(path: Path | None = None) -> dict:
    from harness.errors import ConfigError

    path = path or DEFAULT_STATE
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"no running testnet recorded at {path}; start one with `harness up` or pass --env-file") from None
    except ValueError as e:
        raise ConfigError(f"state file {path} is corrupt ({e}); remove it or run `harness down`") from None


def clear_state(path: Path | None = None) -> None:
    (path or DEFAULT_STATE).unlink(missing_ok=True)
