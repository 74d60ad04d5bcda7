"""Scenario 1: the upgrade path v0.3.8 -> v0.3.9 -> v0.3.10 on the default topology.

Per hop: management traffic (status polling, a reconcile forced by admin disable/enable before and after
the switch) and inference traffic (chat completions through the API node) across the switch; the audit
finds no stale, early or unversioned request; the old version got exactly one stop per node."""

import pytest

from harness.drive.assertions import assert_chain_agrees, assert_hop_clean

pytestmark = [
    pytest.mark.stable,
    pytest.mark.slow,
    pytest.mark.requires(api_profile="reference"),
    pytest.mark.usefixtures("fresh_chain"),
]


def test_upgrade_path(testnet, upgrade, harness_options):
    # Start: chain and API node agree on the first version
    assert_chain_agrees(testnet, harness_options.versions[0])

    for version in harness_options.versions[1:]:
        # Propose, vote, wait for the height, drive traffic, audit
        hop = upgrade.hop(version)
        assert_hop_clean(hop, testnet)
        # The chain agrees
        assert_chain_agrees(testnet, version)
