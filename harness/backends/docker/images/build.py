"""Build the local images with no registry: Debian base by debootstrap + `docker import`, the harness image on top
(python3 venv with the harness from this source tree, Java 17 for WireMock, Debian nginx), and a thin WireMock image.

    report = build_images()                      # builds what is missing, reuses the rest
    report = build_images(only="harness", force=True)
    report.images["harness"]                     # "gonka-harness/harness:<inputs hash>"

The harness image's tag is a hash of its inputs (pyproject.toml, harness/, mocks/, the Dockerfiles, extra CA
certificates), so images are cached between runs on one machine and rebuilt only when sources change. `:local`
always points at the newest build (docker_settings.LOCAL_IMAGES).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.backends.docker import util as docker_util
from harness.backends.docker.images.dockerfiles import HARNESS_DOCKERFILE, WIREMOCK_DOCKERFILE
from harness.backends.docker.settings import BASE_IMAGE, HARNESS_REPO, LOCAL_TAG, WIREMOCK_REPO
from harness.errors import ConfigError, DependencyMissing, StartupError
from harness.util.process import tail
from harness.util.wait import wait_until

IMAGE_NAMES = ("base", "harness", "wiremock")
SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEBOOTSTRAP_TIMEOUT_S = 900.0
BUILD_TIMEOUT_S = 1200.0
KEEP_BUILDS = 3  # older <hash> tags are pruned after a build (sources change often while developing)
LOCK_TIMEOUT_S = 1800.0  # another process building the same images (pytest -n 2)
EXTRA_CA_DIR = Path("/usr/local/share/ca-certificates")  # host CAs (e.g. an HTTPS-intercepting proxy) for pip

Log = Callable[[str], None]


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class StepResult:
    name: str
    ref: str
    action: str  # "built" | "cached"
    duration_s: float
    log_path: Path | None = None


@dataclass
class BuildReport:
    tag: str
    steps: list[StepResult] = field(default_factory=list)

    @property
    def images(self) -> dict[str, str]:
        return {s.name: s.ref for s in self.steps}

    @property
    def duration_s(self) -> float:
        return sum(s.duration_s for s in self.steps)


# -- inputs ---------------------------------------------------------------------------------------------------
def repo_root() -> Path:
    root = Path(__file__).resolve().parents[4]
    if not (root / "pyproject.toml").is_file() or not (root / "harness").is_dir():
        raise ConfigError(
            f"`harness images build` needs the harness source tree (pyproject.toml, harness/, mocks/) but {root} is not one; "
            "run it from a checkout installed with `pip install -e .`"
        )
    return root


def _source_files(root: Path) -> list[Path]:
    files = [root / "pyproject.toml"]
    for top in ("harness", "mocks"):
        for p in sorted((root / top).rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo"):
                files.append(p)
    return files


def extra_ca_files() -> list[Path]:
    return sorted(p for p in EXTRA_CA_DIR.glob("*.crt") if p.is_file()) if EXTRA_CA_DIR.is_dir() else []


def inputs_hash(root: Path | None = None) -> str:
    """12 hex digits over every input of the harness and WireMock images (paths and contents)."""
    root = root or repo_root()
    h = hashlib.sha256()
    h.update(HARNESS_DOCKERFILE.encode())
    h.update(WIREMOCK_DOCKERFILE.encode())
    for p in _source_files(root):
        h.update(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes() + b"\0")
    for p in extra_ca_files():
        h.update(b"ca:" + p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:12]


def apt_mirror() -> str:
    """The machine's Debian mirror for `bookworm` (apt sources), or HARNESS_DEBIAN_MIRROR, or deb.debian.org."""
    if os.environ.get("HARNESS_DEBIAN_MIRROR"):
        return os.environ["HARNESS_DEBIAN_MIRROR"]
    for src in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        for stanza in src.read_text(errors="replace").split("\n\n"):
            fields = dict(line.split(":", 1) for line in stanza.splitlines() if ":" in line and not line.startswith(("#", " ")))
            suites = fields.get("Suites", "").split()
            if SUITE in suites and "deb" in fields.get("Types", "").split():
                return fields.get("URIs", "").split()[0]
    lst = Path("/etc/apt/sources.list")
    if lst.is_file():
        for line in lst.read_text(errors="replace").splitlines():
            parts = [p for p in line.split() if not p.startswith("[")]
            if len(parts) >= 3 and parts[0] == "deb" and parts[2] == SUITE:
                return parts[1]
    return DEFAULT_MIRROR


# -- engine and tools -----------------------------------------------------------------------------------------
def engine() -> Any:
    """A docker SDK client, or DependencyMissing naming scripts/docker-engine.sh."""
    reason = docker_util.docker_available()
    if reason:
        raise DependencyMissing(reason)
    return docker_util.client(timeout_s=BUILD_TIMEOUT_S)


def _debootstrap() -> str:
    exe = shutil.which("debootstrap") or ("/usr/sbin/debootstrap" if Path("/usr/sbin/debootstrap").exists() else None)
    if not exe:
        raise DependencyMissing(
            "debootstrap is missing (it builds the Debian base image): apt-get install -y debootstrap "
            "(or run `bash scripts/docker-engine.sh`, which installs it)"
        )
    if os.geteuid() != 0:
        raise DependencyMissing("debootstrap needs root to build the Debian base image; run `harness images build` as root")
    return exe


@contextlib.contextmanager
def _build_lock(root: Path, log: Log) -> Iterator[None]:
    path = root / ".harness" / "images" / "build.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:

        def acquired() -> bool:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                return False

        if not acquired():
            log(f"images: another build holds {path}; waiting")
            wait_until(acquired, timeout_s=LOCK_TIMEOUT_S, interval_s=1.0, what=f"image build lock {path}")
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# -- steps ----------------------------------------------------------------------------------------------------
def _unmount_below(path: Path) -> None:
    """debootstrap mounts proc/sys inside the target; an interrupted run leaves them mounted."""
    mounts = []
    with open("/proc/self/mounts") as fh:
        for line in fh:
            mp = line.split()[1].replace("\\040", " ")
            if mp == str(path) or mp.startswith(str(path) + "/"):
                mounts.append(mp)
    for mp in sorted(mounts, reverse=True):
        subprocess.run(["umount", "-l", mp], check=False, capture_output=True)


def build_base(dc: Any, *, force: bool, log: Log, log_dir: Path) -> StepResult:
    if not force and docker_util.image_exists(BASE_IMAGE, dc):
        log(f"images: [base] {BASE_IMAGE} present, reused")
        return StepResult("base", BASE_IMAGE, "cached", 0.0)
    exe = _debootstrap()
    mirror = apt_mirror()
    log_path = log_dir / "base.log"
    work = Path(tempfile.mkdtemp(prefix="gonka-debootstrap-", dir="/var/tmp"))
    rootfs = work / "rootfs"
    t0 = time.monotonic()
    try:
        log(f"images: [base] debootstrap --variant=minbase {SUITE} from {mirror} (log {log_path})")
        with open(log_path, "wb") as out:
            try:
                proc = subprocess.run(
                    [exe, "--variant=minbase", SUITE, str(rootfs), mirror],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    timeout=DEBOOTSTRAP_TIMEOUT_S,
                    check=False,
                )
            except subprocess.TimeoutExpired as e:
                raise StartupError(f"debootstrap did not finish in {DEBOOTSTRAP_TIMEOUT_S:.0f}s\n{tail(log_path)}") from e
        if proc.returncode != 0:
            raise StartupError(
                f"debootstrap exited with {proc.returncode} (mirror {mirror}; set HARNESS_DEBIAN_MIRROR to use another)\n"
                f"{tail(log_path)}"
            )
        t1 = time.monotonic()
        log(f"images: [base] debootstrap done in {t1 - t0:.1f}s")
        _unmount_below(rootfs)
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for p in (rootfs / junk).glob("*"):
                if p.is_file() and p.name != "lock":
                    p.unlink()
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "--numeric-owner", "-c", "."], stdout=subprocess.PIPE)
        try:
            repo, tag = BASE_IMAGE.rsplit(":", 1)
            dc.api.import_image(
                src=tar.stdout,
                repository=repo,
                tag=tag,
                changes=['CMD ["/bin/bash"]', "ENV LANG=C.UTF-8", f"LABEL {docker_util.LABEL_ROOT}=1"],
                stream_src=True,
            )
        finally:
            if tar.stdout is not None:
                tar.stdout.close()
            rc = tar.wait(timeout=60)
        if rc != 0:
            raise StartupError(f"tar of the debootstrap tree exited with {rc}")
        if not docker_util.image_exists(BASE_IMAGE, dc):
            raise StartupError(f"docker import finished but {BASE_IMAGE} is not in the engine")
        log(f"images: [base] docker import done in {time.monotonic() - t1:.1f}s")
    finally:
        _unmount_below(work)
        subprocess.run(["rm", "-rf", "--one-file-system", str(work)], check=False)
    dt = time.monotonic() - t0
    log(f"images: [base] {BASE_IMAGE} built in {dt:.1f}s")
    return StepResult("base", BASE_IMAGE, "built", dt, log_path)


def _requirements(root: Path) -> str:
    deps = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
    return "\n".join(["setuptools>=68", "wheel", *deps]) + "\n"


def _harness_context(root: Path, ctx: Path) -> None:
    (ctx / "Dockerfile").write_text(HARNESS_DOCKERFILE)
    shutil.copy2(root / "pyproject.toml", ctx / "pyproject.toml")
    (ctx / "requirements.txt").write_text(_requirements(root))
    (ctx / "README.md").write_text("Gonka upgrade harness (image build copy; the README lives in the repository).\n")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo")
    shutil.copytree(root / "harness", ctx / "harness", ignore=ignore)
    shutil.copytree(root / "mocks", ctx / "mocks", ignore=ignore)
    (ctx / "extra-ca").mkdir()
    for p in extra_ca_files():
        shutil.copy2(p, ctx / "extra-ca" / p.name)


def _docker_build(dc: Any, ctx: Path, ref: str, *, force: bool, labels: dict[str, str], log_path: Path) -> None:
    with open(log_path, "w") as out:
        try:
            for chunk in dc.api.build(
                path=str(ctx),
                tag=ref,
                network_mode="host",
                rm=True,
                forcerm=True,
                nocache=force,
                pull=False,
                labels=labels,
                decode=True,
            ):
                if "stream" in chunk:
                    out.write(chunk["stream"])
                    out.flush()
                if "error" in chunk:
                    out.write(f"ERROR: {chunk['error']}\n")
                    out.flush()
                    raise StartupError(f"docker build of {ref} failed: {chunk['error'].strip()}\n{tail(log_path)}")
        except StartupError:
            raise
        except Exception as e:
            raise StartupError(f"docker build of {ref} failed: {type(e).__name__}: {e}\n{tail(log_path)}") from e


def _build_tagged(
    dc: Any, name: str, repo: str, tag: str, make_context: Callable[[Path], object], *, force: bool, log: Log, log_dir: Path
) -> StepResult:
    ref = f"{repo}:{tag}"
    if not force and docker_util.image_exists(ref, dc):
        dc.images.get(ref).tag(repo, LOCAL_TAG)
        log(f"images: [{name}] {ref} present (inputs unchanged), reused")
        return StepResult(name, ref, "cached", 0.0)
    log_path = log_dir / f"{name}.log"
    log(f"images: [{name}] docker build --network host -t {ref} (log {log_path})")
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"gonka-{name}-ctx-") as tmp:
        ctx = Path(tmp)
        make_context(ctx)
        _docker_build(
            dc,
            ctx,
            ref,
            force=force,
            labels={docker_util.LABEL_ROOT: "1", docker_util.LABEL_IMAGE_INPUTS: tag},
            log_path=log_path,
        )
    dc.images.get(ref).tag(repo, LOCAL_TAG)
    dt = time.monotonic() - t0
    log(f"images: [{name}] {ref} built in {dt:.1f}s (also tagged {repo}:{LOCAL_TAG})")
    return StepResult(name, ref, "built", dt, log_path)


def prune_old(dc: Any, repo: str, keep: int = KEEP_BUILDS, log: Log = _stderr) -> int:
    """Remove all but the `keep` newest `<repo>:<hash>` builds (images in use by a container are left alone)."""
    import docker.errors

    imgs = [i for i in dc.images.list(name=repo) if any(t != f"{repo}:{LOCAL_TAG}" for t in i.tags)]
    imgs.sort(key=lambda i: i.attrs.get("Created", ""), reverse=True)
    removed = 0
    for img in imgs[keep:]:
        for t in img.tags:
            if t == f"{repo}:{LOCAL_TAG}":
                continue
            try:
                dc.images.remove(t, noprune=False)
                removed += 1
            except docker.errors.APIError as e:  # in use, or removed meanwhile by a parallel build
                log(f"images: keeping {t}: {e.explanation or e}")
    return removed


def build_images(only: str | None = None, force: bool = False, log: Log = _stderr) -> BuildReport:
    """Build (or reuse) the local images. `only` is one of IMAGE_NAMES; prerequisites missing are built too."""
    if only is not None and only not in IMAGE_NAMES:
        raise ConfigError(f"--only {only!r}: expected one of {', '.join(IMAGE_NAMES)}")
    root = repo_root()
    dc = engine()
    tag = inputs_hash(root)
    log_dir = root / ".harness" / "images"
    log_dir.mkdir(parents=True, exist_ok=True)
    report = BuildReport(tag=tag)
    wanted = {only} if only else set(IMAGE_NAMES)
    try:
        with _build_lock(root, log):
            if "base" in wanted or not docker_util.image_exists(BASE_IMAGE, dc):
                report.steps.append(build_base(dc, force=force and "base" in wanted, log=log, log_dir=log_dir))
            harness_ref = f"{HARNESS_REPO}:{tag}"
            if "harness" in wanted or ("wiremock" in wanted and not docker_util.image_exists(harness_ref, dc)):
                report.steps.append(
                    _build_tagged(
                        dc, "harness", HARNESS_REPO, tag, lambda ctx: _harness_context(root, ctx),
                        force=force and "harness" in wanted, log=log, log_dir=log_dir,
                    )
                )  # fmt: skip
            if "wiremock" in wanted:
                dockerfile = WIREMOCK_DOCKERFILE.replace("{HARNESS_IMAGE}", harness_ref)
                report.steps.append(
                    _build_tagged(
                        dc, "wiremock", WIREMOCK_REPO, tag, lambda ctx: (ctx / "Dockerfile").write_text(dockerfile),
                        force=force, log=log, log_dir=log_dir,
                    )
                )  # fmt: skip
            for s in report.steps:
                if s.action == "built" and s.name in ("harness", "wiremock"):
                    prune_old(dc, s.ref.rsplit(":", 1)[0], log=log)
    finally:
        dc.close()
    return report


def ensure_images(log: Log = _stderr) -> dict[str, str]:
    """Images for `--images local`, built if missing or stale: {"base": ..., "harness": ..., "wiremock": ...}."""
    return build_images(log=log).images
