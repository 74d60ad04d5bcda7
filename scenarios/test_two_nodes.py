"""Scenario 7: two MLNodes, the second with management and inference on separate ports (one MLNode, two ports):
both switch, and every call went to the right port of the right node on the new prefix."""

from urllib.parse import urlparse

import pytest

from harness.backends.contract import NodeSpec
from harness.drive.assertions import assert_hop_clean
from harness.mlnode import Journal
from harness.versions import version_in_path

pytestmark = [
    pytest.mark.stable,
    pytest.mark.requires("choose_mlnodes", "rebuild", api_profile="reference", topology="single"),
]


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
    journal = Journal(split.journals["*"])
    testnet.api.disable("mlnode-1")
    sent_ms = testnet.now_ms()
    chat = testnet.api.chat("to mlnode-2")
    testnet.api.enable("mlnode-1")
    assert chat.ok, f"chat while mlnode-1 is disabled: {chat}"
    assert chat.content.endswith(new), chat.content
    chats = [
        e["request"]
        for e in journal.requests()
        if e["request"]["loggedDate"] >= sent_ms and urlparse(e["request"]["url"]).path == f"/{new}/v1/chat/completions"
    ]
    assert chats, f"mlnode-2's journal has no POST /{new}/v1/chat/completions after {sent_ms} ms: the chat went elsewhere"
    assert {urlparse(r["absoluteUrl"]).port for r in chats} == {split.inference_port}, chats

    # Once the old prefix was no longer allowed, management calls used the management port and inference calls the
    # inference port
    after = hop.timing().until_ms
    entries = [e["request"] for e in journal.requests() if e["request"]["loggedDate"] >= after]
    assert entries, "no traffic reached the split-port node after the switch"
    for req in entries:
        port, path = urlparse(req["absoluteUrl"]).port, urlparse(req["url"]).path
        expected_port = split.poc_port if "/api/v1/" in path else split.inference_port
        assert port == expected_port, f"{req['method']} {path} reached port {port}, expected {expected_port}"
        assert version_in_path(path) == new, f"{req['method']} {path} after the switch"
