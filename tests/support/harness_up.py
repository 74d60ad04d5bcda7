"""`harness up` as a user runs it, a child process (`python -m harness up`), for the tests and scenarios that drive a
testnet through the operator CLI (tests/ops/test_ops_embedded.py, tests/backends/test_external_backend.py,
scenarios/test_upstream.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.util.wait import wait_until


class HarnessUp:
    """`harness up --state-file TMP/testnet.json [--workdir TMP/work] [extra...]`, its output in TMP/up.log, started
    and waited for until it wrote its state file (`wait_for="env"`: the env file next to it, TMP/testnet.env). With
    workdir=False `harness up` makes a temp workdir of its own. `doc` is the state file as it was then.

    `stop()` ends the process (SIGTERM, then SIGKILL); `kill()` also kills every process group the state file
    records: the last-resort cleanup for a failed test."""

    def __init__(
        self,
        tmp: Path,
        *extra: str,
        workdir: bool = True,
        env: dict[str, str] | None = None,
        wait_for: str = "state",
        timeout_s: float = 90,
    ) -> None:
        self.state = tmp / "testnet.json"
        self.env_file = self.state.with_suffix(".env")
        self.log = tmp / "up.log"
        where = ["--workdir", str(tmp / "work")] if workdir else []
        argv = [sys.executable, "-m", "harness", "up", "--state-file", str(self.state), *where, *extra]
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
        written = self.env_file if wait_for == "env" else self.state
        try:
            wait_until(
                written.exists,
                timeout_s=timeout_s,
                what=f"`harness up` to write its {wait_for} file",
                abort=lambda: None if self.proc.poll() is None else f"harness up exited {self.proc.returncode}",
                evidence=lambda: self.log.read_text()[-3000:],
            )
            self.doc: dict[str, Any] = json.loads(self.state.read_text())
        except BaseException:
            self.kill()
            raise

    def ports(self) -> list[int]:
        """Every port the state file names (endpoints, MLNode journals, each participant's API node and MLNodes)."""
        ep = self.doc["endpoints"]
        urls = [ep[k] for k in ("chain_rpc", "api_chain_rpc", "api_public", "api_admin", "chaos_control") if ep.get(k)]
        urls += [u for n in self.doc["mlnodes"] for u in n["journals"].values()]
        urls += [u for p in self.doc["participants"] for u in (p["api_public"], p["api_admin"])]
        urls += [u for p in self.doc["participants"] for n in p["mlnodes"] for u in n["journals"].values()]
        return sorted({urlsplit(u).port for u in urls})

    def pids(self) -> list[int]:
        return [c["pid"] for c in self.doc["pids"]]

    def stop(self) -> None:
        """SIGTERM to `harness up` (it stops its testnet and removes its files), SIGKILL after 30 s."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def kill(self) -> None:
        """Last-resort cleanup for a failed test: the up process and every recorded group."""
        self.stop()
        if self.state.exists():
            for c in json.loads(self.state.read_text()).get("pids", []):
                try:
                    os.killpg(c["pid"], signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
