"""Chaos scenario 5: one shared chain connection without healing or retry (the pr228 profile's pool knobs:
pool_size 1, healing off) reproduces "one EOF breaks everything" (Connection Architecture Issue).

A single EOF on the only connection: the call in flight fails with no other connection to retry on, the pool
has no healthy connection left, and the blocks processed meanwhile fail their plan query. (The reference pool
takes the same EOF without a single failed block query: scenario 1.) The model's behaviour is asserted as it is:
any other outcome fails the test, with the checker's figures in the message."""

import pytest

from harness.drive.chaos import ChaosDriver

pytestmark = [pytest.mark.chaos, pytest.mark.requires("chaos_proxy", "model_api", "rebuild")]


@pytest.fixture(scope="module")
def testnet_options():
    return {"api_profile": "pr228"}


def test_one_eof_breaks_the_shared_connection(testnet):
    with ChaosDriver(testnet) as chaos:
        assert chaos.pool_size == 1, f"expected the pr228 profile's single shared connection, got {chaos.pool()}"
        # Exactly one EOF on the shared connection, within the next 5 blocks
        window = chaos.on_pool_connection("eof", blocks=5, follow=False, max_count=1)
        chaos.wait_window_end(window)
        out = chaos.outcome()
        dark_ms = chaos.watch.unhealthy_ms(below=1)

    figures = (
        f"seed {out.report.seed}: {out.faults_applied.get('eof', 0)} EOF -> {out.api_block_errors} block(s) with a failed "
        f"plan query, {out.api_chain_failures} failed chain call(s), no healthy connection for {dark_ms:.0f} ms "
        f"(fewest healthy {out.min_pool_healthy}/1), proxy failure streak {out.report.longest_failure_streak}"
    )
    assert out.faults_applied.get("eof") == 1, f"the EOF never hit the shared connection:\n{out.text()}"
    # one EOF, and the node had no healthy connection left and failed at least one block's plan query
    assert out.min_pool_healthy == 0, f"the shared connection stayed healthy: {figures}\n{out.text()}"
    assert out.api_block_errors > 0, f"no block's plan query failed: {figures}\n{out.text()}"
    print(f"[chaos] one EOF breaks the shared connection: {figures}")
