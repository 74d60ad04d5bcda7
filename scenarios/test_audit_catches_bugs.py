"""The harness must be able to fail. Real API nodes with real upgrade bugs, driven through real governance,
must give a failing audit that names the offending request:

- a node that switches one block early (PR #228's H-1 switch) audited against the reference contract -> `early`;
- a node that never stops the old version -> `missing_stop`;
- a node that keeps cached MLNode clients on the old prefix (PR #228's ticker refresh) audited against the
  reference contract -> `stale` management requests after the grace window.
"""

import pytest

from harness.drive.hop import Expectation, UpgradeRunner

pytestmark = pytest.mark.stable


def reference_expectation(tn) -> Expectation:
    return Expectation(switch_offset=0, grace_ms=int(tn.info.block_time_s * 1000) + 250, stop_old=True)


def test_early_and_stale_switch_is_caught(testnet_with, harness_options):
    pr228_net = testnet_with(api_profile="pr228")
    runner = UpgradeRunner(pr228_net)
    runner.expect = reference_expectation(pr228_net)  # audit PR #228's node against the reference contract
    hop = runner.hop(harness_options.versions[1])
    report = hop.audit
    assert report.verdict == "fail", f"a node that switches at H-1 passed the reference audit:\n{report.to_text()}"
    assert report.counts["early"] > 0, report.to_text()
    assert report.counts["stale"] > 0, report.to_text()
    assert report.first_offender is not None
    assert report.first_offender.verdict in {"early", "stale"}
    assert report.first_offender.url.startswith(("/v0.3.8/", "/v0.3.9/")), str(report.first_offender)


def test_missing_stop_is_caught(testnet_with, harness_options):
    no_stop_net = testnet_with(api_overrides={"stop_old": False})
    runner = UpgradeRunner(no_stop_net)
    hop = runner.hop(harness_options.versions[1])
    assert hop.audit.verdict == "fail", hop.audit.to_text()
    missing = [o for o in hop.audit.offenders if o.verdict == "missing_stop"]
    assert [o.node for o in missing] == ["mlnode-1"], hop.audit.to_text()
    assert hop.old_stops == {}
