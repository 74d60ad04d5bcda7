"""WireMock standalone on the machine's Java: one supervised process per MLNode mock.

    with WireMockServer(root_dir) as wm:            # root_dir holds mappings/ and __files/
        requests.get(wm.url + "/v0.3.9/api/v1/state")
        Journal(wm.admin_url).requests()

Flags: `--port` (allocated), `--bind-address 127.0.0.1`, `--root-dir`, `--global-response-templating`,
`--disable-gzip`, `--disable-banner`. The request journal is left unbounded (WireMock's default in 2.35
and 3.x: no `--max-request-journal-entries`), so an audit never misses a request; pass
`max_journal_entries` to bound memory on very long runs.

Webhooks: WireMock 3.x bundles the `webhook` extension; the 2.35 standalone jar does not, so on 2.x the
runner puts `mocks/mlnode/extensions/harness-webhook.jar` (source next to it) on the classpath and loads
`org.gonka.harness.wiremock.WebhookAction`, which accepts the same mapping parameters.

The jar is the one inside PyPI `wiremock` (2.35.1) unless HARNESS_WIREMOCK_JAR names another
(e.g. a 3.x standalone jar).
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Self

import requests

from harness.errors import DependencyMissing, StartupError
from harness.util.ports import LOOPBACK, ensure_port_free, free_port
from harness.util.process import ManagedProcess
from harness.util.service import StartStop

MIN_JAVA = 11
JAVA_HINT = "install Java 11 or newer, e.g. `apt-get install openjdk-17-jre-headless`, or set JAVA_HOME"
EXTENSIONS_DIR = Path(__file__).resolve().parents[2] / "mocks" / "mlnode" / "extensions"
WEBHOOK_JAR = EXTENSIONS_DIR / "harness-webhook.jar"
WEBHOOK_CLASS = "org.gonka.harness.wiremock.WebhookAction"
SOURCE_HASH_ENTRY = "META-INF/harness-webhook.source.sha256"
MAIN_CLASS = "com.github.tomakehurst.wiremock.standalone.WireMockServerRunner"
STARTED_LINE = "The WireMock server is started"  # printed by 2.35 and 3.x once the port is bound
PORT_ATTEMPTS = 3
DEFAULT_JVM_ARGS = ("-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")


def find_java(java: str | None = None) -> tuple[str, int]:
    """Path and major version of the Java to run WireMock with: `java`, else $JAVA_HOME/bin/java, else PATH.

    Raises DependencyMissing when there is none or it is older than Java 11.
    """
    candidate = java
    if candidate is None and os.environ.get("JAVA_HOME"):
        home_java = Path(os.environ["JAVA_HOME"]) / "bin" / "java"
        candidate = str(home_java) if home_java.is_file() else None
    candidate = candidate or shutil.which("java")
    if not candidate or not (Path(candidate).is_file() or shutil.which(candidate)):
        raise DependencyMissing(f"Java not found (looked at JAVA_HOME and PATH); WireMock needs Java {MIN_JAVA}+: {JAVA_HINT}")
    major, output = _java_version(candidate)
    if major is None:
        raise DependencyMissing(f"cannot read the Java version from `{candidate} -version`: {output[:200]!r}; {JAVA_HINT}")
    if major < MIN_JAVA:
        raise DependencyMissing(f"{candidate} is Java {major}; WireMock needs Java {MIN_JAVA}+: {JAVA_HINT}")
    return candidate, major


@functools.lru_cache(maxsize=16)
def _java_version(java: str) -> tuple[int | None, str]:
    """(major version, raw output) of `java -version`; cached per binary (it takes ~0.1 s)."""
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, str(e)
    text = (out.stderr + out.stdout).strip()
    return java_major_version(text), text


def java_major_version(version_output: str) -> int | None:
    """`openjdk version "17.0.15"` -> 17, `java version "1.8.0_392"` -> 8."""
    m = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if not m:
        return None
    first = int(m[1])
    return int(m[2] or 0) if first == 1 else first


def wiremock_jar() -> Path:
    """The WireMock standalone jar: $HARNESS_WIREMOCK_JAR, else the one bundled in PyPI `wiremock`."""
    override = os.environ.get("HARNESS_WIREMOCK_JAR")
    if override:
        if not Path(override).is_file():
            raise DependencyMissing(f"HARNESS_WIREMOCK_JAR={override!r} is not a file; point it at a wiremock-standalone jar")
        return Path(override)
    try:
        import wiremock
    except ImportError:
        raise DependencyMissing("PyPI package `wiremock` is not installed; `pip install wiremock==2.7.0`") from None
    jars = sorted((Path(wiremock.__file__).parent / "server").glob("wiremock-standalone-*.jar"))
    if not jars:
        raise DependencyMissing(
            "no wiremock-standalone jar inside the `wiremock` package; reinstall `pip install wiremock==2.7.0`"
        )
    return jars[-1]


def has_builtin_webhooks(jar: Path) -> bool:
    """True for WireMock 3.x standalone jars (the webhook extension is bundled)."""
    with zipfile.ZipFile(jar) as z:
        return "org/wiremock/webhooks/Webhooks.class" in z.namelist()


def build_webhook_extension(out_jar: Path = WEBHOOK_JAR, *, wiremock: Path | None = None) -> Path:
    """Compile mocks/mlnode/extensions/src against a 2.35 jar into `out_jar` (needs javac; the jar is committed)."""
    javac = shutil.which("javac")
    if not javac:
        raise DependencyMissing("javac not found; `apt-get install openjdk-17-jdk-headless` to rebuild the webhook extension")
    sources = sorted(str(p) for p in (EXTENSIONS_DIR / "src").rglob("*.java"))
    with tempfile.TemporaryDirectory() as classes:
        cp = str(wiremock or wiremock_jar())
        subprocess.run([javac, "--release", "11", "-cp", cp, "-d", classes, *sources], check=True, capture_output=True, text=True)
        out_jar.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out_jar, "w", zipfile.ZIP_DEFLATED) as z:
            for f in sorted(Path(classes).rglob("*.class")):
                info = zipfile.ZipInfo(str(f.relative_to(classes)), date_time=(1980, 1, 1, 0, 0, 0))
                z.writestr(info, f.read_bytes())
            z.writestr(zipfile.ZipInfo(SOURCE_HASH_ENTRY, date_time=(1980, 1, 1, 0, 0, 0)), webhook_source_sha256() + "\n")
    return out_jar


def webhook_source_sha256() -> str:
    """sha256 over the extension's Java sources; the built jar records it, so a stale jar is detectable."""
    h = hashlib.sha256()
    for p in sorted((EXTENSIONS_DIR / "src").rglob("*.java")):
        h.update(p.relative_to(EXTENSIONS_DIR).as_posix().encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def webhook_jar_source_sha256(jar: Path = WEBHOOK_JAR) -> str | None:
    with zipfile.ZipFile(jar) as z:
        return z.read(SOURCE_HASH_ENTRY).decode().strip() if SOURCE_HASH_ENTRY in z.namelist() else None


class WireMockServer(StartStop):
    """One WireMock standalone process on 127.0.0.1 serving `root_dir` (mappings/ + __files/)."""

    def __init__(
        self,
        root_dir: Path | str,
        *,
        name: str = "wiremock",
        port: int = 0,
        log_dir: Path | str | None = None,
        extra_args: Sequence[str] = (),
        jar: Path | str | None = None,
        java: str | None = None,
        jvm_args: Sequence[str] = DEFAULT_JVM_ARGS,
        max_journal_entries: int | None = None,
        verbose: bool = False,
        ready_timeout_s: float = 60.0,
    ) -> None:
        self.root_dir = Path(root_dir)
        self.name = name
        self.auto_port = port == 0
        if port:
            ensure_port_free(port, field=f"{name} port")
        self.port = port or free_port()
        # without log_dir: a temp dir made at start and removed by stop (a failed start's log tail is in its error)
        self._log_dir = Path(log_dir) if log_dir else None
        self._own_log_dir = log_dir is None
        self.extra_args = list(extra_args)
        self.jar = Path(jar) if jar else None
        self.java = java
        self.jvm_args = list(jvm_args)
        self.max_journal_entries = max_journal_entries
        self.verbose = verbose
        self.ready_timeout_s = ready_timeout_s
        self.proc: ManagedProcess | None = None
        self.start_s: float | None = None  # wall time from spawn to ready (benchmarks)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def admin_url(self) -> str:
        return f"{self.url}/__admin"

    @property
    def log_dir(self) -> Path:
        if self._log_dir is None:
            self._log_dir = Path(tempfile.mkdtemp(prefix=f"{self.name}-logs-"))
        return self._log_dir

    def _remove_own_log_dir(self) -> None:
        if self._own_log_dir and self._log_dir is not None:
            shutil.rmtree(self._log_dir, ignore_errors=True)
            self._log_dir = None

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    def argv(self) -> list[str]:
        java, _ = find_java(self.java)
        jar = self.jar or wiremock_jar()
        if not (self.root_dir / "mappings").is_dir():
            raise StartupError(
                f"{self.name}: {self.root_dir}/mappings does not exist; write it with harness.mlnode.mappings.write_mappings"
            )
        if has_builtin_webhooks(jar):
            head = [java, *self.jvm_args, "-jar", str(jar)]
        else:
            if not WEBHOOK_JAR.is_file():
                raise DependencyMissing(
                    f"{WEBHOOK_JAR} is missing; rebuild it with harness.mlnode.wiremock.build_webhook_extension()"
                )
            cp = os.pathsep.join([str(jar), str(WEBHOOK_JAR)])
            head = [java, *self.jvm_args, "-cp", cp, MAIN_CLASS, "--extensions", WEBHOOK_CLASS]
        args = ["--port", str(self.port), "--bind-address", LOOPBACK, "--root-dir", str(self.root_dir)]
        args += ["--global-response-templating", "--disable-gzip", "--disable-banner"]
        if self.max_journal_entries is not None:
            args += ["--max-request-journal-entries", str(self.max_journal_entries)]
        if self.verbose:
            args.append("--verbose")
        return head + args + self.extra_args

    def start(self) -> Self:
        if self.proc is not None:
            raise StartupError(f"{self.name}: already started on port {self.port}")
        t0 = time.monotonic()
        for attempt in range(1, PORT_ATTEMPTS + 1):
            self.proc = ManagedProcess(self.argv(), name=self.name, log_path=self.log_path).start()
            try:
                self.proc.wait_ready(
                    self._admin_ready,
                    timeout_s=self.ready_timeout_s,
                    what=f"WireMock admin API {self.admin_url}/mappings",
                    hint="a malformed mapping under root_dir/mappings or a port clash makes WireMock exit; see the log tail",
                )
                break
            except StartupError:
                self.proc.stop()
                # An allocated port taken by someone else between allocation and bind: take another one.
                if not (self.auto_port and attempt < PORT_ATTEMPTS and _port_clash(self._new_log())):
                    self._remove_own_log_dir()
                    raise
                self.port = free_port()
        self.start_s = time.monotonic() - t0
        return self

    def _new_log(self) -> str:
        return self.proc.output() if self.proc is not None else ""

    def _admin_ready(self) -> bool:
        # The "started" line proves it is OUR process that bound the port, not another server already on it.
        if STARTED_LINE not in self._new_log():
            return False
        r = requests.get(f"{self.admin_url}/mappings?limit=1", timeout=1.0)
        return r.status_code == 200

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()
        self._remove_own_log_dir()

    def is_running(self) -> bool:
        return self.proc is not None and self.proc.is_running()

    def logs(self, lines: int = 200) -> str:
        return self.proc.logs(lines) if self.proc else "(not started)"


def _port_clash(log: str) -> bool:
    return "Failed to bind" in log or "Address already in use" in log


def start_many(servers: Iterable[WireMockServer]) -> list[WireMockServer]:
    """Start servers in parallel threads and wait for all; on any failure stop them all and raise the first error."""
    items = list(servers)
    errors: list[BaseException | None] = [None] * len(items)

    def run(i: int) -> None:
        try:
            items[i].start()
        except BaseException as e:
            errors[i] = e

    threads = [threading.Thread(target=run, args=(i,), name=f"start-{s.name}", daemon=True) for i, s in enumerate(items)]
    for t in threads:
        t.start()
    for t, s in zip(threads, items, strict=True):
        t.join(s.ready_timeout_s + 30)
    failed = [e for e in errors if e is not None]
    stuck = [s.name for t, s in zip(threads, items, strict=True) if t.is_alive()]
    if failed or stuck:
        for s in items:
            s.stop()
        if failed:
            raise failed[0]
        raise StartupError(f"start_many: {stuck} did not finish starting")
    return items


def stop_many(servers: Iterable[WireMockServer]) -> None:
    for s in servers:
        s.stop()
