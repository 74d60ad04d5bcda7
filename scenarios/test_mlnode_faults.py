"""MLNode faults around the switch (WireMock's own fault simulation, harness/mlnode/faults.py), in the blocks around
the upgrade height H, and what is expected of the API node (judge_faults, harness/drive/mlnode_faults.py):

- the prefix audit passes: every request, every retry of a user chat included, used the version expected when it
  was sent; the old version was stopped once;
- a user chat the node retried went to the old version only before it switched and to the new one after (never back);
- no request reached a version after the node's own stop of it (the node must not fall back to the old version);
- a user chat failed only inside the fault's span (plus the node's recovery), and with a clear error naming the MLNode;
- after the fault the new version answers.

Cases (blocks counted when they reached the API node): the old version resets every connection from block H-1 to
H+1; the new version answers 503 from H-1 to H+3 (it gets no request before the switch at H); the new version's
chats hang 1.5 s then time out (504) from H-1 to H+3.
"""

import pytest

from harness.drive.hop import UpgradeRunner
from harness.drive.mlnode_faults import MLNodeFaultWindow, judge_faults
from harness.mlnode.faults import MLNodeFault

pytestmark = [pytest.mark.edge, pytest.mark.requires("rebuild", api_profile="reference")]

# The span in which users may see failures ends this many blocks after the fault was removed: the node's recovery
# (its next status poll and reconcile, 2 blocks each on the embedded backend), with room for a loaded machine.
RECOVERY_BLOCKS = 10


def run_with_fault(testnet_with, harness_options, fault_of, first_block: int, end_block: int):
    old, new = harness_options.versions[0], harness_options.versions[1]
    tn = testnet_with()
    window = MLNodeFaultWindow(tn, [fault_of(old, new)], first_block=first_block, end_block=end_block)
    try:
        hop = UpgradeRunner(tn).hop(new, on_scheduled=window.open)
    finally:
        window.close()
    recovery_ms = int(RECOVERY_BLOCKS * tn.info.block_time_s * 1000)
    outcome = judge_faults(hop, tn, window, recovery_ms=recovery_ms)
    assert not outcome.problems, "\n\n".join(outcome.problems)
    assert outcome.faulted > 0
    # retries on the right prefix: old only before the switch, new after it, never back to the old one
    for prompt, versions in outcome.retried.items():
        assert versions == sorted(versions, key=lambda v: v == new), f"{prompt}: attempts on {versions}"
    return hop, outcome


def test_old_version_resets_connections_around_the_switch(testnet_with, harness_options):
    hop, outcome = run_with_fault(testnet_with, harness_options, lambda old, _new: MLNodeFault("reset", old), -1, 1)
    # the node retried chats the resets failed (the reference node retries for 2 s on the then current version)
    assert outcome.retried, f"no chat was retried although {outcome.faulted} requests were reset"
    assert hop.chat_after.content.endswith(harness_options.versions[1])


def test_new_version_answers_503_after_the_switch(testnet_with, harness_options):
    hop, _ = run_with_fault(testnet_with, harness_options, lambda _old, new: MLNodeFault("status", new, status=503), -1, 3)
    (order,) = hop.orders
    assert order.stop_ms is not None, order.describe()  # it stopped the old version and did not fall back to it
    assert order.serving_ms is not None, order.describe()  # and served on the new one once the fault was gone


def test_new_version_chats_time_out_after_the_switch(testnet_with, harness_options):
    hop, _ = run_with_fault(
        testnet_with,
        harness_options,
        lambda _old, new: MLNodeFault("timeout", new, paths="chat", delay_ms=1500),
        -1,
        3,
    )
    timed_out = [f for f in hop.chat_failures if "504" in f.result.body]
    assert all(f.result.status == 500 for f in timed_out), [f.describe() for f in timed_out]
