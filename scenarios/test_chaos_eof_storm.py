"""Chaos scenario 2: an EOF storm on every chain connection for 5 blocks, with the upgrade height inside it.

Chain calls fail during the storm (allowed). After it the pool recovers in full within a bound derived from the
heal interval, and the upgrade is not missed: the API node switches at the planned height from the plan it
already held, and the prefix audit is clean."""

import pytest

from harness.drive.chaos import ChaosDriver
from harness.drive.traffic import ChatTraffic

pytestmark = [pytest.mark.chaos, pytest.mark.stable, pytest.mark.requires("chaos_proxy", "model_api", api_profile="reference")]

STORM_BLOCKS = 5


def test_eof_storm_on_all_connections(testnet, upgrade, harness_options):
    version = harness_options.versions[1]
    chaos = ChaosDriver(testnet)
    chaos.settle_mlnodes(upgrade)
    with chaos, ChatTraffic(testnet.api):
        # Schedule, let the API node read the plan, then storm over H-3..H+1
        _, height = upgrade.schedule(version, lead_blocks=testnet.voting_period_blocks + 8)
        chaos.wait_plan_known(height)
        storm = chaos.add({"fault": "eof", "target": {"kind": "any"}}, blocks=STORM_BLOCKS, start_height=height - 3)
        upgrade.await_switch(version, height)
        chaos.wait_window_end(storm)
        pool_back_ms = chaos.wait_pool_back()
        out = chaos.outcome(pool_back_ms=pool_back_ms)
    audit = upgrade.audit_now()

    # The storm hit
    assert out.report.failed > 0, f"the storm never hit a chain call:\n{out.text()}"
    # Full recovery within two heal intervals plus a block
    bound_ms = 2 * out.heal_interval_ms + chaos.block_ms
    assert out.report.time_to_heal_ms is not None, out.text()
    assert out.report.time_to_heal_ms <= bound_ms, out.text()
    assert pool_back_ms <= bound_ms, f"pool back to N after {pool_back_ms:.0f} ms (bound {bound_ms:.0f} ms):\n{out.text()}"
    assert out.report.hung == 0, out.text()
    # No missed upgrade: switched at H, audit clean
    switch = chaos.api_switch(version)
    assert switch is not None, f"the API node never switched to {version}: {testnet.api.debug_state()['switches']}"
    assert switch["height"] == height, f"API node switch {switch}, planned at {height}"
    assert audit.verdict == "pass", audit.to_text()
