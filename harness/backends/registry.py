"""The backends, one entry each: every dispatch on `--backend` reads this table (the options' validation, the pytest
plugin's capabilities and report header, the testnet factory, `harness up` and `harness demo`). Adding a backend is
one entry here plus its module.

A backend's module (the entry's `module`, imported on first use) provides three functions:

    capabilities(opts: RunOptions) -> frozenset[Capability]    what its testnets can do, before any is started
    describe(opts: RunOptions) -> str                          the API node and chain under test, for report headers
    make(opts: RunOptions, workdir: Path, request: TestnetRequest) -> BaseTestnet    a testnet, not yet started

A leaf: it imports no harness module but the error types, so the lowest layer (harness/options.py) may read it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from harness.errors import ConfigError


@dataclass(frozen=True)
class Backend:
    """One backend. `needs`: (RunOptions field, the error when it is unset); `keep_env`: why `--keep-env` cannot
    keep its testnet ("" when it can); `up_upgrade`: the arguments `harness up` suggests for `harness upgrade`."""

    name: str
    summary: str
    module: str
    runs_up: bool = False  # `harness up` and `harness demo` start one
    voting_period: bool = False  # takes voting_period_blocks (a model chain's gov voting period, in blocks)
    needs: tuple[tuple[str, str], ...] = ()
    keep_env: str = ""
    up_upgrade: str = "--in 8 --from dev"

    def adapter(self) -> ModuleType:
        """The backend's module (capabilities, describe, make)."""
        return importlib.import_module(self.module)


GONKA_BIN_MISSING = (
    "--backend gonka needs your Gonka binaries: --gonka-bin DIR or HARNESS_GONKA_BIN=DIR "
    "(a directory holding inferenced and decentralized-api)"
)
_ENTRIES = (
    Backend(
        "embedded",
        "the model chain and API node as local processes (the default)",
        "harness.backends.embedded.backend",
        runs_up=True,
        voting_period=True,
        keep_env="the embedded testnet cannot outlive pytest (every process it starts, the chaos proxy among them, is "
        "stopped with it); keep one running with `harness up` and test against it with "
        "`--backend external --env-file FILE` (docs/backends.md)",
    ),
    Backend(
        "docker",
        "the model (or the upstream images) as containers",
        "harness.backends.docker.backend",
        voting_period=True,
    ),
    Backend(
        "external",
        "a testnet somebody else runs, described by an env file",
        "harness.backends.external",
        needs=(("env_file", "--backend external needs --env-file FILE with the testnet's URLs (see docs/backends.md)"),),
        keep_env="the harness never tears an external testnet down: there is nothing to keep",
    ),
    Backend(
        "gonka",
        "your real inferenced and decentralized-api (--gonka-bin DIR)",
        "harness.backends.gonka.backend",
        runs_up=True,
        needs=(("gonka_bin", GONKA_BIN_MISSING),),
        keep_env="the gonka testnet's processes are supervised by the pytest process and stop with it; keep one "
        "running with `harness up --backend gonka` and test against it with `--backend external --env-file FILE`",
        up_upgrade="--in 30 --from genesis",
    ),
)
BACKENDS: dict[str, Backend] = {b.name: b for b in _ENTRIES}


def backend(name: str) -> Backend:
    """The entry of `name` (ConfigError naming the backends there are)."""
    entry = BACKENDS.get(name)
    if entry is None:
        raise ConfigError(f"--backend: unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    return entry


def up_backends() -> tuple[str, ...]:
    """The backends `harness up` and `harness demo` start."""
    return tuple(b.name for b in _ENTRIES if b.runs_up)
