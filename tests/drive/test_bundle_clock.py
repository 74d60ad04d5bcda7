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


def test_the_bundles_html_report_of_a_real_hop(tmp_path):
    """A failed hop's bundle holds its HTML report; `harness report` renders it again from report.json; Chromium shows
    the verdict, the participant's lanes and its late requests."""
    import re

    from tests.support.browser_support import rendered_dom, screenshot

    opts = RunOptions()
    with EmbeddedTestnet(opts, tmp_path / "tn", api_overrides={"switch_offset": 1}) as tn:  # one block late
        runner = UpgradeRunner(tn)
        hop = runner.hop(opts.versions[1])
        out = write_bundle(tmp_path / "bundles", "tests/x.py::late", tn, opts, runner=runner, failure="late")
        page = hop.write_html(tmp_path / "hop.html", tn).read_text()  # one hop's page, from the running testnet
        assert "id='verdict'>FAIL<" in page
        assert (tn.workdir / "logs" / "apinode.log").as_uri() in page
    assert not (out / "bundle-errors.txt").exists(), (out / "bundle-errors.txt").read_text()
    data = json.loads((out / "report.json").read_text())
    assert (data["verdict"], data["offenders_total"]) == ("fail", len(hop.audit.offenders))
    again = subprocess.run([sys.executable, "-m", "harness", "report", str(out), "--out", str(tmp_path / "again.html")],
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("FAIL: tests/x.py::late: v0.3.8 -> v0.3.9")
    screenshot(out / "report.html", tmp_path / "shot.png", tmp_path)
    dom = rendered_dom(tmp_path / "again.html", tmp_path)
    assert 'id="verdict">FAIL<' in dom
    ticks = re.findall(r'<g class="ytick"><text [^>]*data-unformatted="([^"]+)"', dom)
    assert ticks[::-1] == ["chain: blocks", "p1 · API node's chain connection", "p1 · MLNode mlnode-1"]
    assert set(re.findall(r'<tr data-verdict="(\w+)"', dom)) == {o.verdict for o in hop.audit.offenders}
    assert "href='logs/apinode.log'" in (out / "report.html").read_text()
    (window,) = data["windows"]
    assert window["basis"] == "delivery"
    assert [h["height"] for h in window["holds"]] == [window["switch_height"], window["switch_height"] + 1]
