"""Chaos scenario 3: the API node's NewBlock websocket is dropped (close 1006) at H-1 and again at H.

The listener redials and replays the heights it missed from `status`; the switch still happens at H and the
prefix audit is clean."""

import pytest

from harness.drive.chaos import ChaosDriver
from harness.drive.traffic import ChatTraffic

pytestmark = [pytest.mark.chaos, pytest.mark.stable, pytest.mark.requires("chaos_proxy", "model_api", api_profile="reference")]

WS_DROP = {"fault": "ws_drop", "target": {"kind": "websocket"}, "window": {"max_count": 1}}


def test_websocket_drop_at_h_minus_1_and_h(testnet, upgrade, harness_options):
    version = harness_options.versions[1]
    chaos = ChaosDriver(testnet)
    chaos.settle_mlnodes(upgrade)
    drops_before = testnet.api.debug_state()["listener"]["drops"]
    with chaos, ChatTraffic(testnet.api):
        _, height = upgrade.schedule(version, lead_blocks=testnet.voting_period_blocks + 6)
        # One drop as block H-1 arrives, one as block H arrives
        first = chaos.add(WS_DROP, blocks=1, start_height=height - 1)
        second = chaos.add(WS_DROP, blocks=1, start_height=height)
        upgrade.await_switch(version, height)
        chaos.wait_window_end(second)
        listener = chaos.wait_listener_connected(drops_before + 2)
        out = chaos.outcome()
    audit = upgrade.audit_now()

    # Both drops happened and the listener came back
    assert out.faults_applied.get("ws_drop") == 2, f"{first.describe()} / {second.describe()}\n{out.text()}"
    assert listener["connected"], listener
    assert listener["drops"] >= drops_before + 2, listener
    # The switch still happened at H; audit clean
    switch = chaos.api_switch(version)
    assert switch is not None, f"the API node never switched to {version}: {testnet.api.debug_state()['switches']}"
    assert switch["height"] == height, f"API node switch {switch}, planned at {height}"
    assert audit.verdict == "pass", audit.to_text()
