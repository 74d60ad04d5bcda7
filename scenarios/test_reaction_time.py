"""A verdict that does not change with the machine: each API node is judged by when its own blocks reached it (the
delivery clock, harness/audit/contracts.py), with the CPU loaded beside the run. A node that is slow but switches
while processing block H passes; a node that is fast but switches one block late fails, and the audit names its
first offending request. On one participant and on three side by side.

The reaction is a knob of the model API node (`reaction_ms` + `reaction_jitter_ms`: it processes every block that
long after the block arrived), the late switch another (`switch_offset: 1`); the contract stays the reference one.
"""

import os

import pytest

from harness.audit.basis import DELIVERY
from harness.backends.contract import ParticipantSpec
from harness.drive.assertions import assert_hop_clean
from harness.drive.hop import UpgradeRunner
from harness.util.cpuload import CpuLoad

pytestmark = [pytest.mark.stable, pytest.mark.requires("model_api", "rebuild", "chaos_proxy")]

SLOW = {"reaction_ms": 1500, "reaction_jitter_ms": 300}  # a real node's reaction on a loaded machine
LATE = {"switch_offset": 1}  # and the model's own fast reaction (~150 ms), one block late
# spinning processes beside the scenario (with the testnet's own and the other xdist worker's: load 8-10 on 2 cores)
LOAD_WORKERS = int(os.environ.get("HARNESS_SCENARIO_CPU_LOAD", "6"))
# The load slows the harness's own signing and broadcasting too: 3 votes landed 2-3 blocks after the proposal at load
# 19, and missed the default 3-5 block voting period ("inactive proposal") at load 13-21. 2 s of voting instead; the
# verdicts under test do not depend on it.
VOTING = {"voting_period_blocks": 10}


@pytest.fixture
def cpu_load():
    with CpuLoad(LOAD_WORKERS, max_s=600) as load:
        yield load


def reference_runner(tn) -> UpgradeRunner:
    runner = UpgradeRunner(tn)
    assert runner.contract.name == "reference", runner.contract
    return runner


def test_a_slow_node_that_switches_on_time_passes(testnet_with, harness_options, cpu_load):
    tn = testnet_with(api_profile="reference", api_overrides=SLOW, **VOTING)
    runner = reference_runner(tn)
    hop = runner.hop(harness_options.versions[1])
    assert_hop_clean(hop, tn)
    timing, seen = hop.timing(), hop.audit.switches_seen[-1]
    assert timing.basis == DELIVERY, hop.audit.to_text()
    assert seen.delay_ms >= SLOW["reaction_ms"], hop.audit.to_text()  # its slowness shows in its reaction
    assert seen.blocks_after == 0, hop.audit.to_text()  # and it switched while processing block H
    # the same journals on the chain's header times + 750 ms: a slow correct node would look late
    chain = runner.audit_now(chain_clock=True)
    assert chain.verdict == "fail", chain.to_text()
    assert chain.first_offender.verdict == "late", chain.to_text()


def test_a_fast_node_one_block_late_fails(testnet_with, harness_options, cpu_load):
    old = harness_options.versions[0]
    tn = testnet_with(api_profile="reference", api_overrides=LATE, **VOTING)
    runner = reference_runner(tn)
    report = runner.hop(harness_options.versions[1]).audit
    assert report.verdict == "fail", f"a node switching at H+1 passed:\n{report.to_text()}"
    first = report.first_offender
    assert (first.verdict, first.seen_version) == ("late", old), report.to_text()
    timing = report.timing[-1]
    assert timing.basis == DELIVERY, report.to_text()
    assert first.logged_ms >= timing.due_ms, report.to_text()  # after block H+1 reached it, not before
    assert "late_stop" in {o.reason for o in report.offenders}, report.to_text()
    # first seen on the new version only once block H+1 had reached it (with the blocks the chain made meanwhile)
    assert report.switches_seen[-1].blocks_after >= 1, report.to_text()


def test_on_three_participants_each_is_judged_by_its_own_blocks(testnet_with, harness_options, cpu_load):
    """p1 and p3 slow but on time, p2 fast but one block late: p2 is named, p1 and p3 pass."""
    old = harness_options.versions[0]
    specs = (ParticipantSpec(api_overrides=SLOW), ParticipantSpec(api_overrides=LATE), ParticipantSpec(api_overrides=SLOW))
    tn = testnet_with(participants=specs, **VOTING)
    runner = reference_runner(tn)
    report = runner.hop(harness_options.versions[1]).audit
    net = report.network
    assert [(r.participant, r.verdict) for r in net.rows] == [("p1", "pass"), ("p2", "fail"), ("p3", "pass")], report.to_text()
    assert net.broken_by == "p2", report.to_text()
    assert (net.breaking.verdict, net.breaking.seen_version) == ("late", old), str(net.breaking)
    timing = {t.participant: t for t in report.timing if t.hop == 1}
    assert {t.basis for t in timing.values()} == {DELIVERY}, report.to_text()
    assert net.breaking.logged_ms >= timing["p2"].due_ms, report.to_text()
    switches = {s.participant: s for s in net.hops[-1].switches}
    for pid in ("p1", "p3"):
        assert switches[pid].delay_ms >= SLOW["reaction_ms"], report.to_text()
        assert switches[pid].blocks_after == 0, report.to_text()
    assert switches["p2"].blocks_after >= 1, report.to_text()
