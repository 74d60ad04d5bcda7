"""Scenario 6: a long inference in flight across the switch completes (it was started on the old version);
requests started after the switch use the new prefix."""

import threading

import pytest

from harness.drive.traffic import ChatTraffic

pytestmark = [
    pytest.mark.stable,
    pytest.mark.requires(api_profile="reference"),
    pytest.mark.usefixtures("fresh_chain"),
]

SLOW_PROMPT = "__slow__ a long generation"  # the mocks answer this prompt after a 2 s delay


def test_long_inference_across_switch(testnet, upgrade, harness_options):
    old, new = harness_options.versions[0], harness_options.versions[1]
    # far enough ahead that the long request can start four blocks before the switch
    _, height = upgrade.schedule(new, lead_blocks=testnet.voting_period_blocks + 10)
    testnet.rpc.wait_for_height(height - 4)

    # Start the long request four blocks before the switch (the mocks hold it 2 s: it is in flight across it)
    result: dict = {}

    def long_chat() -> None:
        try:
            result["r"] = testnet.api.chat(SLOW_PROMPT, timeout_s=30)
        except Exception as e:  # reported below, not as a KeyError
            result["error"] = e

    t = threading.Thread(target=long_chat)
    t.start()
    with ChatTraffic(testnet.api):
        upgrade.await_switch(new, height)
        t.join(30)
    assert not t.is_alive(), "the long inference never completed"
    assert "r" in result, f"the long inference raised: {result.get('error')!r}"
    long = result["r"]
    assert long.ok, f"the long inference failed across the switch: {long}"
    assert old in long.content, f"the long inference started on {old} but was answered by {long.content!r}"
    assert long.elapsed_ms >= 1500

    report = upgrade.audit_now()
    assert report.verdict == "pass", report.to_text()
