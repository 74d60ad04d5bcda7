"""Scenario 7: two MLNodes, the second with management and inference on separate ports (one MLNode, two ports):
both switch, and every call went to the right port of the right node on the new prefix."""

from urllib.parse import urlparse

import pytest

from harness.backends.embedded import NodeSpec
from harness.drive.assertions import assert_hop_clean
from harness.mlnode import Journal
from harness.util.wait import wait_until
from harness.versions import version_in_path

pytestmark = [pytest.mark.stable, pytest.mark.requires("choose_mlnodes", "rebuild")]


@pytest.fixture(scope="module")
def testnet_options():
    return {"nodes": (NodeSpec("mlnode-1"), NodeSpec("mlnode-2", split_ports=True))}


def test_two_nodes_both_switch(testnet, upgrade, harness_options):
    split = testnet.mlnodes[1]
    assert split.poc_port != split.inference_port
    new = harness_options.versions[1]

    hop = upgrade.hop(new)
    assert_hop_clean(hop, testnet)

    # Route a chat to the split-port node: with both nodes idle the API node picks mlnode-1, so take it out first
    testnet.api.disable("mlnode-1")
    wait_until(
        lambda: testnet.api.chat("to mlnode-2").content.endswith(new),
        timeout_s=15,
        what=f"a chat answered by mlnode-2 on {new} while mlnode-1 is disabled",
    )
    testnet.api.enable("mlnode-1")

    # After the grace window, management calls used the management port and inference calls the inference port
    after = hop.switch_ms + upgrade.expect.grace_ms
    entries = [e["request"] for e in Journal(split.journals["*"]).requests() if e["request"]["loggedDate"] >= after]
    assert entries, "no traffic reached the split-port node after the switch"
    for req in entries:
        port, path = urlparse(req["absoluteUrl"]).port, urlparse(req["url"]).path
        expected_port = split.poc_port if "/api/v1/" in path else split.inference_port
        assert port == expected_port, f"{req['method']} {path} reached port {port}, expected {expected_port}"
        assert version_in_path(path) == new, f"{req['method']} {path} after the switch"
    assert {urlparse(r["absoluteUrl"]).port for r in entries} == {split.poc_port, split.inference_port}
