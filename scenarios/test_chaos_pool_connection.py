"""Chaos scenario 1: EOF on every request of one pool connection for 10 blocks during an upgrade hop.

The pool retries the failed calls on its other slots and heals the broken one: no inference request through the
API node fails, the switch happens on time (prefix audit clean), and the pool is back to N healthy slots within
two heal intervals after the window."""

import pytest

from harness.drive.assertions import assert_hop_clean
from harness.drive.chaos import ChaosDriver
from harness.drive.traffic import ChatTraffic

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.stable,
    pytest.mark.requires("chaos_proxy", "model_api", "side_by_side", api_profile="reference"),
]


def test_eof_on_one_pool_connection_during_hop(testnet, upgrade, harness_options):
    chaos = ChaosDriver(testnet)
    chaos.settle_mlnodes(upgrade)
    with chaos, ChatTraffic(testnet.api) as chat:
        # The fault spans the switch (the upgrade height is about 7 blocks ahead); chat traffic runs throughout
        # (no admin disable/enable kick: a disabled node answers 503 by design)
        window = chaos.on_pool_connection("eof", blocks=10)
        hop = upgrade.hop(harness_options.versions[1], kick=False, poc=False, traffic=False)
        chaos.wait_window_end(window)
        pool_back_ms = chaos.wait_pool_back()
        out = chaos.outcome(traffic=chat, pool_back_ms=pool_back_ms)

    # The fault hit and the pool routed around it
    assert out.report.failed > 0, f"the fault never hit a chain call:\n{out.text()}"
    assert out.api_block_errors == 0, f"the API node failed a block's plan query:\n{out.text()}"
    # Users saw nothing, the switch was on time
    assert out.report.user_failures == 0, (
        f"inference failed: {[(s.result.status, s.result.body[:300]) for s in chat.failures()[:3]]}\n{out.text()}"
    )
    assert_hop_clean(hop, testnet)
    # Healed within two heal intervals
    assert pool_back_ms <= 2 * out.heal_interval_ms, f"pool back to N after {pool_back_ms:.0f} ms:\n{out.text()}"
    assert out.report.hung == 0, out.text()


@pytest.fixture(scope="module")
def testnet_options():
    # One WireMock per version behind nginx: the old version's stop at the switch does not stop the new one, so
    # inference is served without a gap and any failed chat is the chaos's doing
    return {"topology": "side-by-side"}
