"""The harness must be able to fail. Real API nodes with real upgrade bugs, driven through real governance and
audited against the reference contract, must fail the audit and name the offending request. Each bug is one
profile knob of the reference API node:

- `switch_offset: -1`: switches one block early (PR #228's H-1 switch)        -> `early` requests;
- `client_refresh: ticker` with a 30 s tick: worker clients keep the old prefix -> `stale` management requests;
- `stop_old: false`: never stops the old version                               -> `missing_stop`.
"""

import pytest

from harness.drive.hop import UpgradeRunner

pytestmark = [pytest.mark.stable, pytest.mark.requires("model_api")]  # the bugs are knobs of the model API node


def test_early_switch_is_caught(testnet_with, harness_options):
    runner = UpgradeRunner(testnet_with(api_overrides={"switch_offset": -1}))
    assert runner.expect.switch_offset == 0  # audited against the reference profile's contract
    report = runner.hop(harness_options.versions[1]).audit
    assert report.verdict == "fail", f"a node that switches at H-1 passed the reference audit:\n{report.to_text()}"
    assert report.counts["early"] > 0, report.to_text()
    assert report.first_offender.verdict == "early", str(report.first_offender)
    assert report.first_offender.url.startswith(f"/{harness_options.versions[1]}/"), str(report.first_offender)


def test_lingering_old_clients_are_caught(testnet_with, harness_options):
    tn = testnet_with(api_overrides={"client_refresh": "ticker"}, api_intervals={"client_refresh_s": 30})
    runner = UpgradeRunner(tn)
    # the reconcile forced after the switch comes well after the grace window, through the still-cached old client
    hop = runner.hop(harness_options.versions[1], after_blocks=8)
    report = hop.audit
    assert report.verdict == "fail", report.to_text()
    stale = [o for o in report.offenders if o.verdict == "stale"]
    assert stale, report.to_text()
    assert any(o.port_class == "management" for o in stale), report.to_text()
    assert all(o.seen_version == harness_options.versions[0] for o in stale), report.to_text()


def test_missing_stop_is_caught(testnet_with, harness_options):
    runner = UpgradeRunner(testnet_with(api_overrides={"stop_old": False}))
    hop = runner.hop(harness_options.versions[1])
    assert hop.audit.verdict == "fail", hop.audit.to_text()
    missing = [o for o in hop.audit.offenders if o.verdict == "missing_stop"]
    assert [o.node for o in missing] == ["mlnode-1"], hop.audit.to_text()
    assert hop.old_stops == {}
