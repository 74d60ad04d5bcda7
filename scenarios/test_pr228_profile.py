"""Scenario 5: the model's pr228 profile (PR #228's behaviour: switch while processing H-1, worker clients refreshed
on a ticker) on the upgrade path. It keeps the pr228 contract (old prefix tolerated until the refresh tick), and the
same journals audited against the reference contract show PR #228's signature: the new prefix one block early.
Each hop prints the measured old-prefix tail (how long old-prefix calls went on after the switch).

The model's pr228 node switches its status polls to the new version at H-1 but brings that version up only at its
refresh tick: a poll meanwhile finds it STOPPED and the node refuses chats until a reconcile (through the old worker
client) brings it back. That window, from the switch to the end of the old prefix's allowance (the contract's refresh
grace on the node's own clock), is named; any failed chat outside it fails the test."""

import pytest

from harness.audit import contract_for
from harness.drive.assertions import assert_hop_clean
from harness.drive.traffic import ExcusedWindow

# the profile is set by a rebuild
pytestmark = [pytest.mark.stable, pytest.mark.slow, pytest.mark.requires("model_api", "rebuild")]


@pytest.fixture(scope="module")
def testnet_options():
    return {"api_profile": "pr228"}


def test_pr228_upgrade_path_under_its_contract(testnet, upgrade, harness_options):
    assert upgrade.contract.name == "pr228", upgrade.contract
    reference = contract_for("reference")
    for k, version in enumerate(harness_options.versions[1:], start=1):
        hop = upgrade.hop(version)
        t = hop.timing()
        tick = ExcusedWindow("pr228: new version up only at the refresh tick", t.from_ms, t.until_ms)
        inside = [f for f in hop.chat_failures if tick.overlaps(f)]
        hop.windows.append(tick)
        assert_hop_clean(hop, testnet)
        tail = hop.audit.measured_old_prefix_tail_ms[f"{hop.from_version}->{version}"]
        print(
            f"[pr228] {hop.from_version} -> {version}: old-prefix tail after the switch = {tail} ms "
            f"(allowed until S{t.until_ms - t.from_ms:+d} ms); {len(inside)} chat(s) refused before the tick"
        )
        strict = upgrade.audit_now(reference)
        early = [o for o in strict.offenders if o.verdict == "early" and o.expected_version == hop.from_version]
        assert early, f"under the reference contract the pr228 node was not early:\n{strict.to_text()}"
        assert {o.seen_version for o in early} == {version}, strict.to_text()
        seen = [s for s in strict.switches_seen if s.hop == k]
        assert [s.blocks_after for s in seen] == [-1], strict.to_text()
