"""Scenario 5: the pr228 profile (PR #228's behaviour: switch at H-1, worker clients refreshed on a ticker)
on the upgrade path. It passes under its own contract (grace = the refresh tick), and each hop report
shows the measured old-prefix tail: how long old-prefix management calls went on after the switch."""

import pytest

from harness.drive.assertions import assert_hop_clean

pytestmark = [pytest.mark.stable, pytest.mark.requires("model_api")]


@pytest.fixture(scope="module")
def testnet_options():
    return {"api_profile": "pr228"}


def test_pr228_upgrade_path_under_its_contract(testnet, upgrade, harness_options):
    assert upgrade.expect.switch_offset == -1
    for version in harness_options.versions[1:]:
        hop = upgrade.hop(version)
        # worker commands may reach the old version until the refresh tick: the audit's stop rule applies
        assert_hop_clean(hop, testnet, exact_stop=False)
        tail = hop.audit.measured_old_prefix_tail_ms
        print(
            f"[pr228] {hop.from_version} -> {version}: old-prefix tail after the switch = {tail} ms "
            f"(grace {upgrade.expect.grace_ms} ms)"
        )
        assert tail is not None
