"""pytest's root is the repository whatever the arguments: `./dev test` names it, and a direct `pytest` whose root a
path option's value (`--gonka-bin DIR`, value apart) would move is refused, naming the fix."""

from __future__ import annotations

import subprocess
import sys

from harness.util.invocation import DEV, REPO


def test_dev_test_roots_at_the_repository_whatever_the_arguments(tmp_path):
    bins = tmp_path / "gonka-bin"
    bins.mkdir()
    done = subprocess.run([str(DEV), "test", "--co", "-m", "upstream", "--gonka-bin", str(bins)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert f"rootdir: {REPO}" in done.stdout
    assert "configfile: pyproject.toml" in done.stdout
    ids = [ln.strip() for ln in done.stdout.splitlines() if "::" in ln or "<Module" in ln]
    assert ids, done.stdout[-2000:]
    assert not any(".." in i for i in ids), ids
    assert list(bins.iterdir()) == [], "nothing is written into the binaries' folder"


def test_a_value_pytest_would_take_for_the_root_is_refused(tmp_path):
    bins = tmp_path / "gonka-bin"
    bins.mkdir()
    done = subprocess.run([sys.executable, "-m", "pytest", "--co", "-q", "-m", "upstream", "--gonka-bin", str(bins)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 4, done.stdout[-2000:]
    assert f"--gonka-bin {bins}: pytest took {bins} for a path to test" in done.stderr
    assert f"write --gonka-bin={bins}, or run ./dev test" in done.stderr
    assert list(bins.iterdir()) == []
