"""Scenario 3: the API node is down across the upgrade height. Restarted, it syncs the version from the
chain (MLNodeVersion) and its very first MLNode call uses the new prefix."""

import pytest

from harness.drive.assertions import assert_chain_agrees, assert_down_before_the_switch
from harness.mlnode.collect import collect_records

pytestmark = [
    pytest.mark.stable,
    pytest.mark.requires("restart_api", api_profile="reference"),
    pytest.mark.usefixtures("fresh_chain"),
]

SPARE_BLOCKS = 4  # between the proposal's passing and H: the API node is stopped in them, also on a loaded machine


def test_api_down_across_upgrade_height(testnet, upgrade, harness_options):
    old, new = harness_options.versions[0], harness_options.versions[1]
    # Schedule the upgrade (with blocks to spare to stop the API node in), then take the API node down before the height
    scheduled_ms = testnet.now_ms()
    _, height = upgrade.schedule(new, spare_blocks=SPARE_BLOCKS)
    testnet.stop_api()
    down_ms = testnet.now_ms()
    nodes = [n.id for n in testnet.mlnodes]
    assert_down_before_the_switch(collect_records(testnet.mlnodes), nodes, since_ms=scheduled_ms, down_ms=down_ms, old=old,
                                  new=new)  # fmt: skip

    # The chain passes the height (and H+1, when the PartialUpgrade entry is deleted) without the API node
    testnet.rpc.wait_for_height(height + 2)
    assert_chain_agrees(testnet, new)
    assert testnet.chain.partial_upgrades() == []

    # Restart: the first MLNode call it makes uses the new prefix
    testnet.start_api()
    testnet.wait_nodes_inference()
    after = sorted((r for r in collect_records(testnet.mlnodes) if r.logged_ms > down_ms), key=lambda r: r.logged_ms)
    assert after, "the restarted API node made no MLNode call"
    first = after[0]
    assert first.version_seen == new, f"first call after restart used {first.version_seen!r}: {first.method} {first.url}"
    # Apart from the one stop it owes the old version (its last used version), every call is on the new prefix
    # (side by side, nginx strips the prefix: the version is the backend's that served it)
    stops = [r for r in after if r.method == "POST" and r.endpoint == "/api/v1/stop" and r.version_seen == old]
    assert len(stops) == 1, f"expected exactly one POST /{old}/api/v1/stop after restart, got {len(stops)}"
    stale = [r for r in after if r.version_seen != new and r not in stops]
    assert not stale, f"{len(stale)} calls after restart did not use {new}; first: {stale[0].method} {stale[0].url}"
    assert testnet.api.versions()["node_version"]["current"] == new
