"""Scenario 7: two MLNodes, the second with management and inference on separate ports (two WireMocks):
both switch, each port of each node audited."""

import pytest

from harness.backends.embedded import NodeSpec
from harness.drive.assertions import assert_hop_clean

pytestmark = pytest.mark.stable


@pytest.fixture(scope="module")
def testnet_options():
    return {"nodes": (NodeSpec("mlnode-1"), NodeSpec("mlnode-2", split_ports=True))}


def test_two_nodes_both_switch(testnet, upgrade, harness_options):
    split = testnet.mlnodes[1]
    assert split.poc_port != split.inference_port
    hop = upgrade.hop(harness_options.versions[1])
    assert_hop_clean(hop, testnet)
    # Management calls hit the management WireMock and inference calls the inference WireMock, on the new prefix
    from harness.drive.collect import collect_records

    records = [r for r in collect_records([split]) if r.logged_ms > hop.switch_ms + upgrade.expect.grace_ms]
    assert {r.port_class for r in records if r.mock_id.endswith("*poc")} == {"management"}
    assert {r.port_class for r in records if r.mock_id.endswith("*inference")} <= {"inference"}
    assert all(r.version_seen == harness_options.versions[1] for r in records)
