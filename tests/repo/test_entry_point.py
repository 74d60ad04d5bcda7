"""One entry point: `./dev harness ...` runs the operator CLI without an activated venv, every command the harness
prints in a hint can be pasted as it is (where it was printed), and every command in the README is one of those."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.util.invocation import REPO, cli_command, pasteable

DEV = REPO / "dev"


def _env_without_venv() -> dict[str, str]:
    """PATH as a fresh shell has it: no venv bin directory, so `harness` and `pytest` are not on it."""
    venv_bin = str(Path(sys.executable).parent)
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != venv_bin)
    return {**os.environ, "PATH": path or "/usr/bin:/bin"}


def _hint(cwd: Path, state: Path) -> str:
    p = subprocess.run(
        [sys.executable, "-m", "harness", "status", "--state-file", str(state)],
        cwd=cwd, capture_output=True, text=True, timeout=60, env=_env_without_venv(),
    )  # fmt: skip
    assert p.returncode == 3, p.stderr
    found = re.search(r"`([^`]*harness up)`", p.stderr)
    assert found, f"no pasteable `... harness up` in: {p.stderr}"
    return found.group(1)


@pytest.mark.parametrize("where", ["repository", "elsewhere"])
def test_printed_hint_runs_as_pasted(where: str, tmp_path: Path) -> None:
    cwd = REPO if where == "repository" else tmp_path
    command = _hint(cwd, tmp_path / "none.json")
    assert command == ("./dev harness up" if where == "repository" else f"{DEV} harness up")
    # paste it (with --help: it must run the CLI, not start a testnet) in the same directory and shell environment
    p = subprocess.run(["bash", "-c", f"{command} --help"], cwd=cwd, capture_output=True, text=True, timeout=120,
                       env=_env_without_venv())  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert "harness up [-h]" in p.stdout


def test_dev_harness_keeps_the_callers_directory(tmp_path: Path) -> None:
    """Relative paths given to `./dev harness` are the caller's, not the repository's."""
    (tmp_path / "x.json").write_text("[not json")
    p = subprocess.run([str(DEV), "harness", "status", "--state-file", "x.json"], cwd=tmp_path, capture_output=True,
                       text=True, timeout=120, env=_env_without_venv())  # fmt: skip
    assert p.returncode == 2, p.stderr
    assert "state file x.json is corrupt" in p.stderr
    assert p.stdout == ""  # set-up's messages never reach stdout


def test_pasteable_rewrites_only_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("harness.util.invocation._on_path_is_us", lambda: False)
    monkeypatch.chdir(REPO)
    assert cli_command() == "./dev harness"
    assert pasteable("run `harness down`, then `harness up --participants 3`") == (
        "run `./dev harness down`, then `./dev harness up --participants 3`"
    )
    text = "`pytest -m stable`; harness-bundles/ and `harnessx`"
    assert pasteable(text) == "`./dev test -m stable`; harness-bundles/ and `harnessx`"
    monkeypatch.setattr("harness.util.invocation._on_path_is_us", lambda: True)
    assert pasteable("`harness down`") == "`harness down`"


def _readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    lines = []
    for block in re.findall(r"```(?:bash|sh)\n(.*?)```", text, flags=re.S):
        lines += [ln.split("#", 1)[0].strip() for ln in block.splitlines()]
    return [ln for ln in lines if ln]


def test_readme_commands_need_no_activation() -> None:
    heads = {ln.split()[0] for ln in _readme_commands()}
    assert heads <= {"./dev", "cat", "HARNESS_CHAIN_RPC=http://127.0.0.1:26657", "ENV"} | {
        h for h in heads if h.startswith("HARNESS_")
    }, heads
    text = (REPO / "README.md").read_text()
    spans = re.findall(r"`([^`\n]+)`", text)
    bare = [s for s in spans if re.match(r"(harness|pytest|\.venv/bin/(harness|pytest)) ", s)]
    assert not bare, f"README commands that need an activated venv: {bare}"
