"""A failure bundle keeps each participant's clock: `harness audit --journal ... --switches switches-p1.json`
re-judges the saved journals exactly as the hop did."""

from __future__ import annotations

import json
import subprocess
import sys

from harness.backends.embedded import EmbeddedTestnet
from harness.drive.hop import UpgradeRunner
from harness.options import RunOptions
from harness.report.bundle import write_bundle


def test_the_bundle_re_judges_a_late_node_on_its_own_clock(tmp_path):
    opts = RunOptions()
    with EmbeddedTestnet(opts, tmp_path / "tn", api_overrides={"switch_offset": 1}) as tn:  # one block late
        runner = UpgradeRunner(tn)
        hop = runner.hop(opts.versions[1])
        assert hop.audit.verdict == "fail", hop.audit.to_text()
        out = write_bundle(tmp_path / "bundles", "tests/x.py::late", tn, opts, runner=runner, failure="late")
    assert not (out / "bundle-errors.txt").exists(), (out / "bundle-errors.txt").read_text()
    clock = json.loads((out / "clock.json").read_text())
    assert [(c["participant"], c["basis"]) for c in clock] == [("p1", "delivery")]
    saved = json.loads((out / "switches-p1.json").read_text())
    assert saved[1]["due_ms"] == clock[0]["due_ms"]
    journal = next((out / "journals").glob("*.json"))

    def rejudge(switches: str) -> dict:
        argv = [sys.executable, "-m", "harness", "audit", "--journal", str(journal), "--switches",
                str(out / switches), "--format", "json"]  # fmt: skip
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert done.returncode in (0, 1), done.stderr
        return json.loads(done.stdout)

    mine = rejudge("switches-p1.json")
    assert mine["verdict"] == "fail"
    assert [(o["verdict"], o["reason"], o["logged_ms"]) for o in mine["offenders"]] == [
        (o.verdict, o.reason, o.logged_ms) for o in hop.audit.offenders
    ]
