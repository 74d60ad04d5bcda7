"""Scenario 8: rollback. A partial upgrade back to the first version restores the old prefix everywhere."""

import pytest

from harness.drive.assertions import assert_chain_agrees, assert_hop_clean

pytestmark = [
    pytest.mark.stable,
    pytest.mark.slow,
    pytest.mark.requires(api_profile="reference"),
    pytest.mark.usefixtures("fresh_chain"),
]


def test_rollback_restores_old_prefix(testnet, upgrade, harness_options):
    first, second = harness_options.versions[0], harness_options.versions[1]
    assert_hop_clean(upgrade.hop(second), testnet)
    back = upgrade.hop(first)
    assert_hop_clean(back, testnet)
    assert_chain_agrees(testnet, first)
