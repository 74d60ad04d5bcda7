"""Side-by-side MLNode topology: a real nginx routing `/<version>/` to one WireMock per version.

    with NginxSideBySide({"v0.3.8": wm8.url, "v0.3.9": wm9.url}, current="v0.3.8") as ngx:
        requests.get(ngx.url + "/v0.3.9/api/v1/state")    # served by wm9 as GET /api/v1/state
        ngx.set_current("v0.3.9")                          # `/` now goes to wm9 (re-render + HUP)

The config comes from mocks/nginx/side-by-side.conf.template (the side-by-side operator guide's nginx.conf:
prefix stripped, `client_max_body_size 0`, `proxy_read_timeout 24h`) and runs as a supervised
process with its own `-p` prefix, `daemon off;`, pid, logs and temp paths inside that prefix.
The WireMock behind nginx sees the UNPREFIXED path: the version is the backend that served it.
The harness installs nothing; a missing nginx is a DependencyMissing naming `apt-get install nginx`.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

import requests

from harness.errors import ConfigError, DependencyMissing, StartupError
from harness.util.ports import LOOPBACK, free_port
from harness.util.process import ManagedProcess
from harness.util.service import StartStop
from harness.util.wait import wait_until
from harness.versions import check_version

TEMPLATE = Path(__file__).resolve().parents[2] / "mocks" / "nginx" / "side-by-side.conf.template"
NGINX_HINT = "install it with `apt-get install nginx` (Debian package; the harness installs nothing itself)"
READY_PATH = "/__harness/nginx-ready"


def find_nginx(nginx: str | None = None) -> str:
    """The nginx binary: `nginx` if given, else PATH, else /usr/sbin/nginx. DependencyMissing when absent."""
    found = shutil.which(nginx) if nginx else shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if not found:
        raise DependencyMissing(
            f"nginx not found ({nginx or 'nginx on PATH or /usr/sbin'}); the side-by-side topology needs it: {NGINX_HINT}"
        )
    return found


def upstream_name(version: str) -> str:
    return "mlnode_" + version.replace(".", "_")


def render_config(backends: dict[str, str], current: str, *, port: int, prefix: Path, generation: int = 1) -> str:
    """The nginx.conf text for these backends (version -> http://host:port) with `/` on `current`."""
    if not backends:
        raise ConfigError("NginxSideBySide: backends is empty; give at least one {version: WireMock base URL}")
    if current not in backends:
        raise ConfigError(f"NginxSideBySide: current version {current!r} has no backend; known: {sorted(backends)}")
    upstreams, locations = [], []
    for version, base in backends.items():
        check_version(version, field="NginxSideBySide backends")
        parts = urlsplit(base)
        if parts.scheme != "http" or not parts.hostname or not parts.port or parts.path not in ("", "/"):
            raise ConfigError(f"NginxSideBySide: backend for {version} must be http://HOST:PORT without a path, got {base!r}")
        upstreams.append(f"    upstream {upstream_name(version)} {{ server {parts.hostname}:{parts.port}; }}")
        locations.append(f"        location /{version}/ {{ proxy_pass http://{upstream_name(version)}/; }}")
    text = TEMPLATE.read_text()
    for marker, value in {
        "@UPSTREAMS@": "\n".join(upstreams),
        "@LOCATIONS@": "\n".join(locations),
        "@CURRENT_UPSTREAM@": upstream_name(current),
        "@CURRENT@": current,
        "@GENERATION@": str(generation),
        "@PORT@": str(port),
        "@PREFIX@": str(prefix),
        "@USER@": _user_directive(),
    }.items():
        text = text.replace(marker, value)
    return text


def _children(pid: int) -> list[int]:
    """Child pids of `pid` (Linux /proc scan): nginx's worker processes."""
    out = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            out.append(int(stat_file.parent.name))
    return out


def _accepting(worker_pid: int) -> bool:
    """An old worker still takes new connections until it retitles itself "... is shutting down" (and closes
    its listening sockets) or exits; a reload is complete only when none of the old workers is accepting."""
    try:
        title = Path(f"/proc/{worker_pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return bool(title.strip()) and "shutting down" not in title


def _user_directive() -> str:
    """Started as root, nginx runs workers as `nobody`, who cannot reach a prefix under a private temp dir
    (request bodies > 16 KB are buffered there): keep the workers as the invoking user instead."""
    if os.geteuid() != 0:
        return ""
    import pwd

    return f"user {pwd.getpwuid(os.geteuid()).pw_name};"


class NginxSideBySide(StartStop):
    """nginx on 127.0.0.1:port in front of one WireMock per version."""

    def __init__(
        self,
        backends: dict[str, str],
        current: str,
        *,
        port: int = 0,
        log_dir: Path | str | None = None,
        nginx: str | None = None,
        ready_timeout_s: float = 15.0,
    ) -> None:
        self.backends = dict(backends)
        self.current = current
        self.port = port or free_port()
        self.nginx = nginx
        self.prefix = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="nginx-side-by-side-"))
        self._own_prefix = log_dir is None  # a temp prefix is removed by stop, and here when the config is refused
        self.ready_timeout_s = ready_timeout_s
        self.generation = 0
        self.proc: ManagedProcess | None = None
        try:
            render_config(self.backends, current, port=self.port, prefix=self.prefix)  # bad input fails here, not at start
        except BaseException:
            self._remove_own_prefix()
            raise

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def conf_path(self) -> Path:
        return self.prefix / "nginx.conf"

    @property
    def error_log(self) -> Path:
        return self.prefix / "logs" / "error.log"

    @property
    def access_log(self) -> Path:
        return self.prefix / "logs" / "access.log"

    def _write_config(self) -> None:
        self.generation += 1
        for sub in ("logs", "temp"):
            (self.prefix / sub).mkdir(parents=True, exist_ok=True)
        self.conf_path.write_text(
            render_config(self.backends, self.current, port=self.port, prefix=self.prefix, generation=self.generation)
        )

    def _check_config(self, binary: str) -> None:
        r = subprocess.run(
            [binary, "-t", "-p", str(self.prefix), "-c", str(self.conf_path), "-e", str(self.error_log)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if r.returncode != 0:
            raise StartupError(f"nginx rejected {self.conf_path}:\n{r.stderr.strip()}")

    def start(self) -> Self:
        if self.proc is not None:
            raise StartupError(f"nginx side-by-side already started on port {self.port}")
        binary = find_nginx(self.nginx)
        self._write_config()
        self._check_config(binary)
        argv = [binary, "-p", str(self.prefix), "-c", str(self.conf_path), "-e", str(self.error_log)]
        self.proc = ManagedProcess(argv, name="nginx-side-by-side", log_path=self.error_log).start()
        self.proc.wait_ready(
            self._serves_generation,
            timeout_s=self.ready_timeout_s,
            what=f"nginx {self.url}{READY_PATH} answering generation {self.generation}",
            hint=f"see {self.error_log}",
        )
        return self

    def _serves_generation(self) -> bool:
        r = requests.get(self.url + READY_PATH, timeout=1.0)
        return r.status_code == 200 and r.text.startswith(f"generation {self.generation} ")

    def set_current(self, version: str) -> None:
        """Route `/` to `version` (rollback or cut-over): re-render, `nginx -t`, SIGHUP, wait until served."""
        if version not in self.backends:
            raise ConfigError(f"set_current: {version!r} has no backend; known: {sorted(self.backends)}")
        if self.proc is None or not self.proc.is_running():
            raise StartupError(
                f"set_current({version}): nginx is not running ({self.proc.exit_reason() if self.proc else 'not started'})"
            )
        previous = self.current
        self.current = version
        self._write_config()
        try:
            self._check_config(find_nginx(self.nginx))
        except StartupError:
            self.current = previous
            self._write_config()
            raise
        assert self.proc.pid is not None
        old_workers = _children(self.proc.pid)
        os.kill(self.proc.pid, signal.SIGHUP)
        wait_until(
            lambda: self._serves_generation() and not any(_accepting(pid) for pid in old_workers),
            timeout_s=self.ready_timeout_s,
            what=f"nginx reload to generation {self.generation} (current {version})",
            evidence=self.proc.evidence,
            abort=self.proc.exit_reason,
        )

    def logs(self, lines: int = 60) -> str:
        return self.proc.logs(lines) if self.proc else "(not started)"

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()
        self._remove_own_prefix()

    def _remove_own_prefix(self) -> None:
        if self._own_prefix:
            shutil.rmtree(self.prefix, ignore_errors=True)
