"""The harness must be able to fail. API nodes with real upgrade bugs, driven through real governance and audited
against the reference contract, must fail and name the offending request. Each bug is one knob of the model API
node (the knob is the bug; the contract stays the reference one):

- `switch_offset: -1`: switches one block early (PR #228's H-1 switch)           -> `early` requests;
- `switch_offset: +1` / `+2`: switches one or two blocks late                      -> `late` requests and a late stop;
- `client_refresh: ticker` with a 30 s tick: worker clients keep the old prefix    -> `stale` management requests;
- `stop_old: false`: never stops the old version                                  -> `missing_stop`;
- `bring_up: next_tick`: the new version comes up a reconcile interval after the old one stopped -> user chats
  fail (503) at the switch, although every prefix is right.
"""

import pytest

from harness.drive.assertions import assert_hop_clean
from harness.drive.hop import UpgradeRunner

pytestmark = [pytest.mark.stable, pytest.mark.requires("model_api", "rebuild")]  # each bug: a model knob, set by a rebuild


def reference_runner(testnet_with, **knobs) -> UpgradeRunner:
    runner = UpgradeRunner(testnet_with(api_profile="reference", **knobs))
    assert runner.contract.name == "reference", runner.contract  # audited against the reference contract
    return runner


def test_early_switch_is_caught(testnet_with, harness_options):
    runner = reference_runner(testnet_with, api_overrides={"switch_offset": -1})
    report = runner.hop(harness_options.versions[1]).audit
    assert report.verdict == "fail", f"a node that switches at H-1 passed the reference audit:\n{report.to_text()}"
    assert report.counts["early"] > 0, report.to_text()
    assert report.first_offender.verdict == "early", str(report.first_offender)
    assert report.first_offender.seen_version == harness_options.versions[1], str(report.first_offender)
    assert report.switches_seen[0].blocks_after == -1, report.to_text()


@pytest.mark.parametrize("blocks", [1, 2])
def test_late_switch_is_caught(testnet_with, harness_options, blocks):
    old, new = harness_options.versions[0], harness_options.versions[1]
    runner = reference_runner(testnet_with, api_overrides={"switch_offset": blocks})
    report = runner.hop(new).audit
    assert report.verdict == "fail", f"a node that switches at H+{blocks} passed the reference audit:\n{report.to_text()}"
    late = [o for o in report.offenders if o.verdict == "late"]
    assert late, report.to_text()
    assert all(o.seen_version == old for o in late), report.to_text()
    # its stop on the old version came after the switch was due, as the switch itself did: after block H+1 reached
    # the node, however long the proxy had held H+1 for it to switch
    assert [o.node for o in late if o.reason == "late_stop"] == ["mlnode-1"], report.to_text()
    seen = report.switches_seen[0]
    assert seen.blocks_after is not None, report.to_text()
    assert seen.blocks_after >= blocks, report.to_text()
    timing = report.timing[0]
    assert seen.first_ms >= timing.due_ms, report.to_text()


def test_lingering_old_clients_are_caught(testnet_with, harness_options):
    runner = reference_runner(testnet_with, api_overrides={"client_refresh": "ticker"}, api_intervals={"client_refresh_s": 30})
    # the reconcile forced after the switch comes well after the old prefix's allowance, through the still-cached old
    # client
    hop = runner.hop(harness_options.versions[1], after_blocks=8)
    report = hop.audit
    assert report.verdict == "fail", report.to_text()
    stale = [o for o in report.offenders if o.verdict == "stale"]
    assert stale, report.to_text()
    assert any(o.port_class == "management" for o in stale), report.to_text()
    assert all(o.seen_version == harness_options.versions[0] for o in stale), report.to_text()


def test_missing_stop_is_caught(testnet_with, harness_options):
    runner = reference_runner(testnet_with, api_overrides={"stop_old": False})
    hop = runner.hop(harness_options.versions[1])
    assert hop.audit.verdict == "fail", hop.audit.to_text()
    missing = [o for o in hop.audit.offenders if o.verdict == "missing_stop"]
    assert [o.node for o in missing] == ["mlnode-1"], hop.audit.to_text()
    assert hop.old_stops == {}


def test_downtime_at_the_switch_is_caught(testnet_with, harness_options):
    tn = testnet_with(api_profile="reference", api_overrides={"bring_up": "next_tick"})
    runner = UpgradeRunner(tn)
    hop = runner.hop(harness_options.versions[1])
    assert hop.audit.verdict == "pass", hop.audit.to_text()  # every prefix is right: only users notice
    failed = hop.user_failures
    assert failed, f"no user chat failed although the node served nothing for a reconcile interval: {hop.chat_failures}"
    assert {f.result.status for f in failed} == {503}, [f.describe() for f in failed]
    assert all(hop.switch_ms <= f.ended_ms and f.started_ms <= hop.switch_ms + 5_000 for f in failed), (
        f"failures away from the switch at {hop.switch_ms} ms: {[f.describe() for f in failed]}"
    )
    with pytest.raises(AssertionError, match="user chats failed across"):
        assert_hop_clean(hop, tn)
