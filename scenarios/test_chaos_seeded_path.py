"""Chaos scenario 4: seeded random faults (eof, reset, latency, close_idle, each at 20 %) on every chain connection
across the whole upgrade path v0.3.8 -> v0.3.9 -> v0.3.10. Every hop's audit is clean.

The seed is the proxy's (`--chaos-seed N`, default 0) and is printed in the report. Replay: the same seed, the same
faults and the same request sequence give the same fault decisions. On a full testnet the request sequence itself
depends on timing (when blocks land, when the healer runs), so a rerun with the same seed draws the same numbers but
may not line them up with the same requests; tests/chaos/test_chaos_drive.py proves the replay at the proxy level,
with an in-process proxy, a small upstream and a fixed request sequence."""

import pytest

from harness.drive.assertions import assert_hop_clean
from harness.drive.chaos import ChaosDriver, seeded_faults

pytestmark = [pytest.mark.chaos, pytest.mark.requires("chaos_proxy", "model_api", api_profile="reference")]


def test_seeded_faults_across_the_upgrade_path(testnet, upgrade, harness_options):
    with ChaosDriver(testnet) as chaos:
        chaos.add_many(seeded_faults(0.2), blocks=200)
        for version in harness_options.versions[1:]:
            hop = upgrade.hop(version, kick=False, poc=False)
            assert_hop_clean(hop, testnet)
        # Faults off: the pool heals
        chaos.end_all()
        out = chaos.outcome(pool_back_ms=chaos.wait_pool_back())
    print(f"[chaos] seeded path: seed {out.report.seed}, faults applied {out.faults_applied}")
    assert sum(out.faults_applied.values()) > 0, f"no seeded fault applied:\n{out.text()}"
    assert out.report.hung == 0, out.text()
    assert out.pool_back_ms is not None, out.text()
    assert out.pool_back_ms <= 2 * out.heal_interval_ms + chaos.block_ms, out.text()
