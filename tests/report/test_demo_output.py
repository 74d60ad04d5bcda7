"""`harness demo` as a user runs it on an 80-column terminal: the header is wrapped, never cut; the run ends with the
paths of its PNG and HTML report in the folder it names (--out, kept), and leaves nothing in the temp directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def _demo(tmp_path: Path, out: Path) -> subprocess.CompletedProcess:
    tmp = tmp_path / "tmp"
    tmp.mkdir(exist_ok=True)
    env = {**os.environ, "TMPDIR": str(tmp), "COLUMNS": "80", "TERM": "dumb"}
    return subprocess.run([sys.executable, "-m", "harness", "demo", "--out", str(out)], capture_output=True, text=True,
                          timeout=240, env=env, cwd=tmp_path)  # fmt: skip


@pytest.mark.slow
def test_demo_names_its_report_folder_and_leaves_no_temp_dir(tmp_path):
    out = tmp_path / "out"
    done = _demo(tmp_path, out)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = done.stdout.rstrip("\n").splitlines()
    wide = [line for line in lines if len(line) > 80 and str(tmp_path) not in line]  # a path is never broken in two
    assert wide == []
    text = " ".join(done.stdout.split())
    assert "upgrade path v0.3.8 -> v0.3.9 -> v0.3.10; API node profile reference, topology single, backend embedded" in text
    assert lines[-2:] == [f"PNG timeline: {out / 'audit.png'}", f"HTML report:  {out / 'report.html'}"]
    assert (out / "audit.png").read_bytes().startswith(b"\x89PNG")
    assert "id='verdict'>PASS<" in (out / "report.html").read_text()
    assert {"report.json", "audit.txt", "logs", "journals", "clock.json"} <= {p.name for p in out.iterdir()}
    assert list((tmp_path / "tmp").iterdir()) == [], "the demo's temp workdir is removed"
    again = _demo(tmp_path, out)  # an earlier run's folder is never mixed into
    assert again.returncode == 2
    assert f"--out {out}: exists and is not an empty directory" in again.stderr
