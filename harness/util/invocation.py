"""How a user runs the `harness` command on this machine, so that every command the harness prints can be pasted as
it is: `harness` when that name on PATH is this very installation, else the repository's `./dev harness` (needs no
venv activation; relative to the current directory when it is inside the checkout, absolute otherwise), else
`python -m harness` with this interpreter's path.

    cli_command()                          -> "./dev harness"
    pasteable("run `harness down` first")  -> "run `./dev harness down` first"
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEV = REPO / "dev"
_HARNESS_IN_BACKTICKS = re.compile(r"`harness(?= |`)")
_PYTEST_IN_BACKTICKS = re.compile(r"`pytest(?= |`)")


def _on_path_is_us() -> bool:
    found = shutil.which("harness")
    return found is not None and Path(found).parent.absolute() == Path(sys.executable).parent.absolute()


def _dev() -> str | None:
    """The repository's ./dev script as the user should type it, None outside a source checkout."""
    if not (DEV.is_file() and os.access(DEV, os.X_OK) and (REPO / "pyproject.toml").is_file()):
        return None
    try:
        rel = Path(os.path.relpath(DEV, Path.cwd()))
    except ValueError:  # another drive (not on Linux)
        return shlex.quote(str(DEV))
    return "./" + rel.as_posix() if not rel.as_posix().startswith("..") else shlex.quote(str(DEV))


def cli_command() -> str:
    """The `harness` command line prefix a user can paste in the current directory."""
    if _on_path_is_us():
        return "harness"
    dev = _dev()
    return f"{dev} harness" if dev else f"{shlex.quote(sys.executable)} -m harness"


def test_command() -> str:
    """The pytest command line prefix a user can paste: `./dev test` in a checkout (it also sets pytest's root)."""
    dev = _dev()
    if dev:
        return f"{dev} test"
    return "pytest" if shutil.which("pytest") else f"{shlex.quote(sys.executable)} -m pytest"


def pasteable(text: str) -> str:
    """`text` with every `harness ...` and `pytest ...` in backticks rewritten to the prefixes above."""
    if "`harness" in text:
        cli = cli_command()
        if cli != "harness":
            text = _HARNESS_IN_BACKTICKS.sub(lambda _m: "`" + cli, text)
    if "`pytest" in text:
        test = test_command()
        if test != "pytest":
            text = _PYTEST_IN_BACKTICKS.sub(lambda _m: "`" + test, text)
    return text
