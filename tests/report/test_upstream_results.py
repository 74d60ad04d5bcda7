"""docs/upstream-results.md is written from one run (harness/report/upstream.py): outcomes from pytest's JUnit XML,
summaries from the audits the scenarios published, a verdict series as a table. No real binaries here."""

from __future__ import annotations

from pathlib import Path

from harness.audit import Switch, SwitchContract, SwitchTimeline, audit, record_from_url
from harness.report.upstream import RevisionRun, junit_outcomes, render, series_table, summary

JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">
<testcase classname="scenarios.test_upstream" name="test_upgrade_path" time="120">
  <skipped type="pytest.xfail" message="pr228: PR #228 switches at H-1 | and keeps the old prefix">reason</skipped>
</testcase>
<testcase classname="scenarios.test_upstream" name="test_operator_cli_against_the_real_pair" time="90"/>
<testcase classname="scenarios.test_upstream" name="test_two_pending_upgrades" time="80">
  <failure message="AssertionError: departs from what it did before&#10;second line">trace</failure>
</testcase>
<testcase classname="scenarios.test_upstream" name="test_x" time="0"><skipped type="pytest.skip" message="needs y"/></testcase>
</testsuite></testsuites>"""


def test_outcomes_come_from_the_junit_xml(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    path.write_text(JUNIT)
    got = [(o.test, o.status, o.message) for o in junit_outcomes(path)]
    assert got == [
        ("test_upgrade_path", "xfailed", "pr228: PR #228 switches at H-1 | and keeps the old prefix"),
        ("test_operator_cli_against_the_real_pair", "passed", ""),
        ("test_two_pending_upgrades", "failed", "AssertionError: departs from what it did before"),
        ("test_x", "skipped", "needs y"),
    ]


def _audit() -> dict:
    tl = SwitchTimeline([Switch("v0.3.8", 0), Switch("v0.3.9", 10_000, height=42)])
    recs = [
        record_from_url("/v0.3.8/api/v1/state", logged_ms=12_000, mock_id="m"),
        record_from_url("/v0.3.9/x", logged_ms=13_000, mock_id="m"),
    ]
    return audit(recs, tl, SwitchContract(grace_ms=750, stop_old=False)).to_dict()


def test_the_page_has_one_run_and_its_audits(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    path.write_text(JUNIT)
    run = RevisionRun("pr228@49bd9c18", "decentralized-api pr228@49bd9c18 (sha256 abc)", 600, junit_outcomes(path))
    run.audits["upgrade-path"] = _audit()
    run.files["upgrade-path"] = [tmp_path / "pr228-upgrade-path.txt", tmp_path / "pr228-upgrade-path.png"]
    page = render([run], series=None, meta={"command": "harness upstream-results --bin x", "date": "2026-12-07",
                                             "commit": "abc1234", "load": "3.0-9.5", "cpus": "2"})  # fmt: skip
    assert "harness commit `abc1234`, load average 3.0-9.5 on 2 cores" in page
    assert "| `pr228@49bd9c18` | decentralized-api pr228@49bd9c18 (sha256 abc) | 10.0 min |" in page
    assert "| test_upgrade_path | xfailed: pr228: PR #228 switches at H-1 \\| and keeps the old prefix |" in page
    assert "| test_two_pending_upgrades | failed: AssertionError: departs from what it did before |" in page
    assert "**upgrade-path**: FAIL: 1 ok, 1 late (chain clock); first offender late `GET /v0.3.8/api/v1/state`" in page
    assert "![pr228@49bd9c18 upgrade-path](upstream-results/pr228-upgrade-path.png)" in page
    assert "[audit text](upstream-results/pr228-upgrade-path.txt)" in page


def test_summary_names_the_clock_and_the_tail() -> None:
    line = summary(_audit())
    assert line.startswith("FAIL: 1 ok, 1 late (chain clock)")
    assert "old-prefix tail 2.0 s" in line


def test_a_series_is_one_row_per_configuration() -> None:
    def row(config: str, verdict: str, reaction: int, stop: int, held: int, load: float, testnet: int) -> dict:
        words = [] if verdict == "pass" else ["late/late_stop"]
        held_ms = {"186": 2500, "187": held}
        return {"config": config, "testnet": testnet, "verdict": verdict, "verdicts": words, "load1": load,
                "participants": {"p1": {"reaction_ms": reaction, "stop_ms": stop, "held_ms": held_ms}}}  # fmt: skip

    rows = [row("ontime x1", "pass", 200, 10, 80, 9.0, 1), row("ontime x1", "pass", 300, 30, 40, 10.0, 2),
            row("late x1", "fail", 10100, 10050, 10000, 11.0, 1)]  # fmt: skip
    table = series_table(rows)
    assert table[2] == "| ontime | 1 | 2 (2) | 2 / 0 | - | 200 / 250 / 300 | 10 / 20 / 30 | 40 / 60 / 80 | 9 / 9.5 / 10 |"
    late = "| late | 1 | 1 (1) | 0 / 1 | late/late_stop | 10100 / 10100 / 10100 | 10050 / 10050 / 10050 | "
    assert table[3] == late + "10000 / 10000 / 10000 | 11 / 11 / 11 |"
