"""A pytest plugin for this repository's own suite (loaded by the root conftest.py): tests leave no temp folders.

At start-up the run gets a temp directory of its own (TMPDIR and `tempfile.tempdir` point into it; xdist workers and
every process a test starts inherit it). At the end, anything left in it except pytest's own `pytest-of-*` (tmp_path,
which pytest manages) is named and fails the run, and the directory is removed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

GUARD_KEY = pytest.StashKey[tuple[Path, str | None, str | None]]()
PREFIX = "harness-test-tmp-"


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):  # an xdist worker: the controller's directory came with the environment
        return
    root = Path(tempfile.mkdtemp(prefix=PREFIX))
    config.stash[GUARD_KEY] = (root, os.environ.get("TMPDIR"), tempfile.tempdir)
    os.environ["TMPDIR"] = str(root)
    tempfile.tempdir = str(root)


def leftovers(root: Path) -> list[str]:
    """What the tests left in `root` (pytest's own tmp_path folders excepted)."""
    return sorted(p.name for p in root.iterdir() if not p.name.startswith("pytest-of-"))


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    guard = session.config.stash.get(GUARD_KEY, None)
    if guard is None or not guard[0].is_dir():
        return
    left = leftovers(guard[0])
    if left:
        tr = session.config.pluginmanager.get_plugin("terminalreporter")
        text = f"tests left {len(left)} temp folder(s) or file(s) behind: {', '.join(left[:20])}"
        if tr is not None:
            tr.write_line(f"harness temp guard: {text}", red=True, bold=True)
        if session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_unconfigure(config: pytest.Config) -> None:
    """Also after a usage error, when no session finished: the environment as it was, the directory gone."""
    guard = config.stash.get(GUARD_KEY, None)
    if guard is None:
        return
    root, env_before, tempdir_before = guard
    if env_before is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = env_before
    tempfile.tempdir = tempdir_before
    shutil.rmtree(root, ignore_errors=True)
    del config.stash[GUARD_KEY]
