"""The API node as a service: in-process (`ApiNode`, on a BackgroundLoop) or as a subprocess (`ApiNodeProcess`).

with ApiNode(cfg) as api:                 # cfg: ApiNodeConfig, or a path to its YAML
    requests.get(api.public_url + "/v1/status")
with ApiNodeProcess(config_path, log_dir) as api:
    api.kill()                            # SIGKILL, for crash tests; api.start() again afterwards

Imports inside functions are on purpose: a model process loads only what its command runs (start-up time)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Self

from harness.errors import StartupError
from harness.model.apinode.config import ApiNodeConfig
from harness.util.loop import BackgroundLoop
from harness.util.process import ManagedProcess
from harness.util.service import StartStop


def _as_config(cfg: ApiNodeConfig | str | Path) -> ApiNodeConfig:
    return cfg if isinstance(cfg, ApiNodeConfig) else ApiNodeConfig.load(cfg)


def write_ready_file(path: Path, info: dict[str, Any]) -> None:
    from harness.model.apinode.state import atomic_write

    atomic_write(path, json.dumps(info, indent=2).encode())


async def _build(cls: Any, cfg: ApiNodeConfig) -> Any:
    return cls(cfg)  # built on the node's own loop


class ApiNode(StartStop):
    """In-process API node. `.public_url`, `.admin_url`, `.callback_url` once started."""

    def __init__(self, cfg: ApiNodeConfig | str | Path, *, name: str = "apinode") -> None:
        self.cfg = _as_config(cfg)
        self.name = name
        self.core: Any = None
        self._loop: BackgroundLoop | None = None

    def start(self) -> Self:
        from harness.model.apinode.core import ApiNodeCore

        self.cfg.check_ports_free()
        self._loop = BackgroundLoop(self.name)
        try:
            self.core = self._loop.run(_build(ApiNodeCore, self.cfg), timeout_s=30)
            self._loop.run(self.core.start(), timeout_s=30)
        except BaseException:
            self.stop()
            raise
        if self.cfg.ready_file:
            write_ready_file(self.cfg.ready_file, self.core.ready_info())
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        try:
            if self.core is not None:
                self._loop.run(self.core.stop(), timeout_s=30)
        finally:
            self._loop.close()
            self._loop = None

    def run(self, coro: Any, timeout_s: float = 30.0) -> Any:
        """Run a coroutine on the node's loop (tests use it to reach the core)."""
        assert self._loop is not None, "ApiNode not started"
        return self._loop.run(coro, timeout_s=timeout_s)

    @property
    def public_url(self) -> str:
        return self.core.urls()["public"]

    @property
    def admin_url(self) -> str:
        return self.core.urls()["admin"]

    @property
    def callback_url(self) -> str:
        return self.core.urls()["callback"]



class ApiNodeProcess(StartStop):
    """`python -m harness apinode --config FILE` as a supervised child; same interface as ApiNode plus kill()."""

    def __init__(
        self, config_path: str | Path, log_dir: str | Path, *, name: str = "apinode", start_timeout_s: float = 30.0
    ) -> None:
        self.config_path = Path(config_path).resolve()
        self.cfg = ApiNodeConfig.load(self.config_path)  # validates before anything starts
        self.log_dir = Path(log_dir)
        self.name = name
        self.start_timeout_s = start_timeout_s
        self.ready_file = self.cfg.ready_file or self.log_dir / f"{name}.ready.json"
        self.proc: ManagedProcess | None = None
        self.info: dict[str, Any] = {}
        self.starts = 0

    def start(self) -> Self:
        if self.proc is not None and self.proc.is_running():
            raise StartupError(f"{self.name}: already running (pid {self.proc.pid})")
        self.ready_file.unlink(missing_ok=True)
        self.starts += 1
        argv = [
            sys.executable,
            "-m",
            "harness",
            "apinode",
            "--config",
            str(self.config_path),
            "--ready-file",
            str(self.ready_file),
        ]
        self.proc = ManagedProcess(argv, name=self.name, log_path=self.log_dir / f"{self.name}.log")
        self.proc.start()
        try:
            self.proc.wait_ready(
                self._read_ready,
                timeout_s=self.start_timeout_s,
                what=f"ready file {self.ready_file}",
                hint="see the log tail above; `harness apinode --config FILE` runs it in the foreground",
            )
        except BaseException:
            self.proc.stop()
            raise
        return self

    def _read_ready(self) -> bool:
        if not self.ready_file.exists():
            return False
        self.info = json.loads(self.ready_file.read_text())
        return True

    def stop(self) -> int | None:
        return self.proc.stop() if self.proc is not None else None

    def kill(self) -> None:
        """SIGKILL (a crash: no clean shutdown, no final state write)."""
        if self.proc is not None:
            self.proc.kill()

    def is_running(self) -> bool:
        return self.proc is not None and self.proc.is_running()

    @property
    def public_url(self) -> str:
        return self.info["public"]

    @property
    def admin_url(self) -> str:
        return self.info["admin"]

    @property
    def callback_url(self) -> str:
        return self.info["callback"]

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    def logs(self, lines: int = 40) -> str:
        return self.proc.logs(lines) if self.proc else "(not started)"

