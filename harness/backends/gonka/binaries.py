"""The user's real Gonka binaries: where they are, whether they run, what they are, and how to run them.

    bins = GonkaBinaries.locate("~/gonka-bin/main")      # --gonka-bin DIR or HARNESS_GONKA_BIN=DIR
    bins.describe("decentralized-api")                     # "decentralized-api main@312044d2 (sha256 4f1c2a...)"
    bins.argv("inferenced", "version")                     # in a private mount namespace, see below

DIR holds `inferenced` and `decentralized-api` (and `libwasmvm.x86_64.so` when the binaries were linked against a
module-cache copy that is not on the run-time search path: DIR is put on LD_LIBRARY_PATH).

Both binaries hard-code paths under /root: the chain reads `/root/cw20_base.wasm` when it builds a default genesis,
and the API node keeps its NATS JetStream store in `/root/.dapi/.nats`. So that parallel runs never share (or
touch) the real /root, every command runs in a private mount namespace (`unshare`) where /root is an overlay whose
writes land in the run's own directory (as root), or a bind of that directory (as another user, with
--map-root-user). The CW20 code is DIR/cw20_base.wasm when present, else a minimal WebAssembly module: the chain
only stores it for bridge contracts the upgrade scenarios never use.

The revision is read from the binary's Go build info (`vcs.revision`, present when it was built in a git checkout)
or from DIR/REVISION (one line, e.g. `main@312044d2`); `--gonka-revision` overrides both.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from harness.backends.contract import TestnetInfo
from harness.errors import ConfigError, DependencyMissing

if TYPE_CHECKING:
    from harness.backends.contract import TestnetInfo
    from harness.backends.gonka.genesis import ChainParams
    from harness.options import RunOptions

BINARIES = ("inferenced", "decentralized-api")
MINIMAL_WASM = b"\x00asm\x01\x00\x00\x00"
# Revisions the harness knows the outcome of (docs/upstream-results.md); prefixes of the full commit id.
KNOWN_REVISIONS = {"312044d2": "main", "49bd9c18": "pr228"}
BUILD_HINT = (
    "build them from your gonka checkout, e.g. `make -C inference-chain build` (inferenced) and "
    "`make api-local-build` (decentralized-api), and copy both into one directory"
)


@dataclass(frozen=True)
class BinaryInfo:
    path: Path
    sha256: str
    revision: str  # full or short commit id, or "" when unknown
    modified: bool = False  # built from a checkout with local changes

    @property
    def short_revision(self) -> str:
        return self.revision[:8] if self.revision else "unknown-revision"


@dataclass
class GonkaBinaries:
    dir: Path
    info: dict[str, BinaryInfo] = field(default_factory=dict)
    revision_label: str = ""  # --gonka-revision, overrides what the binaries say

    @classmethod
    def locate(cls, directory: str | Path | None, *, revision: str = "") -> GonkaBinaries:
        """Check DIR holds both binaries and that they run; ConfigError/DependencyMissing naming the fix otherwise."""
        if not directory:
            raise ConfigError("--backend gonka needs the directory of your Gonka binaries: --gonka-bin DIR or HARNESS_GONKA_BIN")
        d = Path(directory).expanduser().resolve()
        if not d.is_dir():
            raise ConfigError(f"--gonka-bin {directory}: not a directory; {BUILD_HINT}")
        missing = [b for b in BINARIES if not (d / b).is_file()]
        if missing:
            raise ConfigError(f"--gonka-bin {d}: no {' or '.join(missing)} in it; {BUILD_HINT}")
        not_exec = [b for b in BINARIES if not os.access(d / b, os.X_OK)]
        if not_exec:
            raise ConfigError(f"--gonka-bin {d}: {', '.join(not_exec)} not executable (chmod +x)")
        bins = cls(d, revision_label=revision)
        bins.info = {b: _inspect(d / b, d) for b in BINARIES}
        bins.check_runs()
        return bins

    # -- running -----------------------------------------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        lib = os.environ.get("LD_LIBRARY_PATH", "")
        return {"LD_LIBRARY_PATH": f"{self.dir}:{lib}" if lib else str(self.dir)}

    def argv(self, binary: str, *args: str, root: Path | None = None) -> list[str]:
        """The command line for `binary args`; with `root`, inside the private /root namespace of that run."""
        cmd = [str(self.dir / binary), *map(str, args)]
        return sandboxed(cmd, root) if root is not None else cmd

    def check_runs(self) -> None:
        """Every shared library resolves (`ldd`), and `inferenced version` runs; a broken binary fails here, clearly.
        (decentralized-api has no harmless subcommand: run without a config it would write ./config.yaml.)"""
        env = {**os.environ, **self.env()}
        for b in BINARIES:
            if shutil.which("ldd") is None:
                break
            out = subprocess.run(["ldd", str(self.dir / b)], capture_output=True, text=True, timeout=30, env=env)
            missing = [line.split()[0] for line in out.stdout.splitlines() if "not found" in line]
            if missing:
                raise DependencyMissing(
                    f"--gonka-bin: {b} needs {', '.join(missing)}, which is not on the library path; copy it into "
                    f"{self.dir} (libwasmvm.x86_64.so is in your Go module cache under github.com/!cosm!wasm/wasmvm*)"
                )
        try:
            r = subprocess.run([str(self.dir / "inferenced"), "version"], capture_output=True, text=True, timeout=60, env=env)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise DependencyMissing(f"--gonka-bin: cannot run {self.dir / 'inferenced'}: {e}; {BUILD_HINT}") from None
        if r.returncode != 0:
            raise DependencyMissing(
                f"--gonka-bin: `inferenced version` exited {r.returncode}: {(r.stdout + r.stderr).strip()[-300:]}; {BUILD_HINT}"
            )

    # -- describing ----------------------------------------------------------------------------------------------------
    @property
    def revision(self) -> str:
        """`main@312044d2`, `pr228@49bd9c18`, the user's label, or the short commit id."""
        if self.revision_label:
            return self.revision_label
        rev = self.info["decentralized-api"].revision if self.info else ""
        if not rev:
            return "unknown-revision"
        if "@" in rev:  # a label from DIR/REVISION
            return rev
        for prefix, name in KNOWN_REVISIONS.items():
            if rev.startswith(prefix):
                return f"{name}@{prefix}"
        return rev[:8]

    @property
    def known_revision(self) -> str | None:
        """ "main" or "pr228" when the binaries are one of the revisions docs/upstream-results.md reports, else None."""
        label = self.revision.split("@", 1)[0]
        return label if label in KNOWN_REVISIONS.values() else None

    def describe(self, binary: str) -> str:
        i = self.info[binary]
        dirty = " with local changes" if i.modified else ""
        return f"{binary} {self.revision}{dirty} (sha256 {i.sha256[:12]}, {i.path})"


REAL_PRE_HOLD_MS = 3000  # block B held this long after B-1: a real node switching at B-1 shows V meanwhile
REAL_HOLD_MS = 10000  # block B+1 held at most this long for a real node to show its switch


def gonka_info(bins: GonkaBinaries, opts: RunOptions, params: ChainParams, *, chain_under_test: str) -> TestnetInfo:
    """The TestnetInfo of a testnet of these binaries (one node or a network): judged by the reference contract."""

    return TestnetInfo(
        backend="gonka",
        chain_id=params.chain_id,
        block_time_s=params.timeout_commit_s,
        start_version=opts.start_version,
        api_profile="reference",  # a real node is judged by the reference contract
        topology=opts.topology,
        api_kind="upstream",
        api_under_test=bins.describe("decentralized-api"),
        chain_under_test=chain_under_test,
        upstream_revision=bins.known_revision or "",
        # a real node queries the chain on every block: it reacts in 0.3-2 s, more under load (docs/verdicts.md)
        pre_hold_ms=REAL_PRE_HOLD_MS,
        hold_ms=REAL_HOLD_MS,
    )


def sandboxed(cmd: list[str], root: Path) -> list[str]:
    """`cmd` in a private mount namespace whose /root is `root/upper` over the real /root (see the module doc)."""
    upper, work = root / "upper", root / "work"
    upper.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    wasm = upper / "cw20_base.wasm"
    if not wasm.exists():
        wasm.write_bytes(MINIMAL_WASM)
    if os.geteuid() == 0:
        script = 'mount -t overlay overlay -o "lowerdir=/root,upperdir=$1,workdir=$2" /root && shift 2 && exec "$@"'
        return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "sh", str(upper), str(work), *cmd]
    script = 'mount --bind "$1" /root && shift 2 && exec "$@"'
    return ["unshare", "--map-root-user", "--mount", "--", "sh", "-c", script, "sh", str(upper), str(work), *cmd]


def check_sandbox(scratch: Path) -> None:
    """DependencyMissing naming the fix when private mount namespaces are not available here."""
    if shutil.which("unshare") is None:
        raise DependencyMissing("--backend gonka needs `unshare` (util-linux) to give each run its own /root; install util-linux")
    r = subprocess.run(sandboxed(["true"], scratch), capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise DependencyMissing(
            "--backend gonka runs the Gonka binaries in a private mount namespace (they hard-code paths under /root), "
            f"but `unshare` failed here: {r.stderr.strip()[:300]}; run as root, or enable unprivileged user namespaces "
            "(sysctl kernel.unprivileged_userns_clone=1)"
        )


def _inspect(path: Path, directory: Path) -> BinaryInfo:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    revision, modified = _vcs_revision(path)
    label_file = directory / "REVISION"
    if not revision and label_file.is_file():
        revision = label_file.read_text().strip().split("\n", 1)[0].strip()
    return BinaryInfo(path=path, sha256=digest.hexdigest(), revision=revision, modified=modified)


def _vcs_revision(path: Path) -> tuple[str, bool]:
    """vcs.revision and vcs.modified from the Go build info (needs `go` on PATH; "" when absent or not recorded)."""
    go = shutil.which("go")
    if go is None:
        return "", False
    try:
        out = subprocess.run([go, "version", "-m", str(path)], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "", False
    fields = dict(line.split("\t")[2].split("=", 1) for line in out.splitlines() if line.startswith("\tbuild\tvcs."))
    return fields.get("vcs.revision", ""), fields.get("vcs.modified") == "true"
