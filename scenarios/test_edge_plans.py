"""Plan edge cases: what governance can hand an API node besides one upgrade at a time, each written once against the
Testnet contract and run on every backend that has what it needs.

- two partial upgrades in adjacent blocks (H and H+1): the first version serves for one block, each old version is
  stopped once;
- a proposal whose voting ends after its own height: the chain stores the plan and deletes it in the same EndBlock
  (gov's EndBlocker runs before the inference module's, on Gonka's chain as on simnet), so nothing ever switches;
- a rejected proposal (every validator votes NO): nothing switches;
- an upgrade to the version already current: no switch, and that version is never stopped for it;
- a rollback proposed while an upgrade is pending: at the same height it replaces the plan (the chain keeps one per
  height) and nothing switches; at a later height the new version serves in between, then the old one again;
- the upgrade height inside a PoC phase of a real chain (CHAIN_POC): the switch and the old version's stop happen
  while the MLNodes run PoC.
"""

import pytest

from harness.chain.proposals import PASSED, cast_votes, submit_partial_upgrade, wait_proposal_final
from harness.drive.assertions import assert_chain_agrees, assert_hop_clean
from harness.drive.hop_report import same_version_stops
from harness.drive.traffic import ChatTraffic, unexcused
from harness.errors import TxError

pytestmark = [pytest.mark.edge, pytest.mark.usefixtures("fresh_chain")]

ATTEMPTS = 3  # proposals made when the votes landed after the voting period on a loaded machine


def voting_blocks(testnet) -> int:
    return testnet.chain.earliest_upgrade_height()[1]["voting_blocks"]


def proposal_timeout_s(testnet) -> float:
    """Deadline for a proposal's voting period to end: three voting periods and a few blocks."""
    why = testnet.chain.earliest_upgrade_height()[1]
    return why["voting_period_s"] * 3 + testnet.rpc.deadline_for_blocks(5, block_time_s=why["block_time_s"])


def assert_stayed_on(testnet, upgrade, old: str, height: int, chats: ChatTraffic) -> None:
    """After a proposal that must switch nothing: the chain lists no plan at `height` and keeps `old`, every request
    every MLNode received carries `old`, no stop of it came outside the management windows, no user chat failed
    outside them, and a chat is answered by `old`."""
    __tracebackhide__ = True
    assert testnet.chain.partial_upgrade(height) is None, f"the chain still lists a plan at {height}"
    assert_chain_agrees(testnet, old)
    report = upgrade.audit_now()  # the timeline has no switch: every request must carry the old prefix
    assert report.passed, report.to_text()
    seen = {r.version_seen for r in report.records}
    assert seen == {old}, f"prefixes seen: {sorted(map(str, seen))}\n{report.to_text()}"
    block = testnet.timeline.time_of(height)
    assert block is not None, f"block {height} is not in the harness's block timeline"
    owners = {n: "" for n in testnet.participant(None).node_ids}
    stops = same_version_stops(report.records, old, since_ms=block.block_time_ms, windows=upgrade.windows, owners=owners)
    assert not stops, [f"{r.method} {r.url} at {r.logged_ms}" for r in stops]
    failed = unexcused(chats.failures(), upgrade.windows)
    assert not failed, [f.describe() for f in failed[:5]]
    upgrade.wait_quiet()
    chat = testnet.api.chat("still the old version?")
    assert chat.ok, chat
    assert chat.content.endswith(old), chat.content


@pytest.mark.requires(versions=3, api_profile="reference")  # the pr228 model keeps the last plan only (scenario 4)
def test_two_upgrades_in_adjacent_blocks(testnet, upgrade, harness_options):
    v0, v1, v2 = harness_options.versions[:3]
    with upgrade.chat_traffic():
        # Both proposals pass before H - 1, so the API node holds both plans when H comes
        _, h = upgrade.schedule(v1, lead_blocks=2 * (voting_blocks(testnet) + 4) + 4)
        upgrade.schedule(v2, height=h + 1)
        upgrade.await_switch(v1, h)
        upgrade.await_switch(v2, h + 1)
        upgrade.wait_past_due()
        upgrade.drive_management()
    report = upgrade.audit_now()
    assert report.passed, report.to_text()
    assert_chain_agrees(testnet, v2)
    # v1 served for one block: each node brought it up before it moved on; each old version was stopped once per node
    assert all(s.first_ms is not None for s in report.switches_seen), report.to_text()
    v1_up = [r for r in report.records if r.version_seen == v1 and r.endpoint == "/api/v1/inference/up"]
    assert v1_up, f"no node brought {v1} up between H and H+1\n{report.to_text()}"
    stops = {(s.old_version, s.node): (s.status, s.repeated) for s in report.stops}
    assert stops == {(v, n.id): ("ok", 0) for v in (v0, v1) for n in testnet.mlnodes}, report.to_text()
    upgrade.wait_quiet()
    assert testnet.api.chat("after both").content.endswith(v2)


def test_a_proposal_whose_voting_ends_after_its_height_never_switches(testnet, upgrade, harness_options):
    old, new = harness_options.versions[0], harness_options.versions[1]
    keys = testnet.validator_keys()
    with upgrade.chat_traffic() as chats:
        for attempt in range(ATTEMPTS):
            # H two blocks ahead: the proposal is included at H - 1 at the latest, its voting period ends blocks later
            height = testnet.rpc.height() + 2
            sub = submit_partial_upgrade(testnet.chain, new, height, proposer=keys[0])
            try:
                cast_votes(testnet.chain, sub.proposal_id, keys, option="yes")
            except TxError as e:  # the votes came after the voting period (gov's inactive proposal): again
                if attempt == ATTEMPTS - 1 or "inactive proposal" not in str(e.log):
                    raise
                continue
            status, at, detail = wait_proposal_final(testnet.chain, sub.proposal_id, timeout_s=proposal_timeout_s(testnet))
            if status == PASSED:
                break
        assert status == PASSED, f"proposal {sub.proposal_id} ended {status} ({detail}): nothing was tested"
        # the chain says so itself: the voting period ended after block H was made
        voting_end_ms = testnet.chain.proposal(sub.proposal_id).voting_end_time.ToMilliseconds()
        block_h = testnet.timeline.time_of(height)
        assert block_h is not None and voting_end_ms > block_h.block_time_ms, (voting_end_ms, block_h)  # noqa: PT018
        testnet.rpc.wait_for_height(at + 2)
        upgrade.drive_management()
    assert_stayed_on(testnet, upgrade, old, height, chats)


def test_a_rejected_proposal_switches_nothing(testnet, upgrade, harness_options):
    old, new = harness_options.versions[0], harness_options.versions[1]
    keys = testnet.validator_keys()
    with upgrade.chat_traffic() as chats:
        height = testnet.chain.earliest_upgrade_height()[0] + 2
        sub = submit_partial_upgrade(testnet.chain, new, height, proposer=keys[0])
        cast_votes(testnet.chain, sub.proposal_id, keys, option="no")  # every validator: NO
        status, at, detail = wait_proposal_final(testnet.chain, sub.proposal_id, timeout_s=proposal_timeout_s(testnet))
        assert status == "PROPOSAL_STATUS_REJECTED", f"proposal {sub.proposal_id} ended {status} ({detail})"
        testnet.rpc.wait_for_height(max(at, height) + 2)
        upgrade.drive_management()
    assert_stayed_on(testnet, upgrade, old, height, chats)


def test_an_upgrade_to_the_version_already_current_stops_nothing(testnet, upgrade, harness_options):
    current = harness_options.versions[0]
    hop = upgrade.hop(current)  # proposed, passed and applied at H like any upgrade: the chain sets the same version
    assert hop.same_version
    # no switch in the timeline, every request on the current version, and no stop of it from block B on outside the
    # hop's own windows (admin disable, PoC cycles)
    assert_hop_clean(hop, testnet)
    assert {r.version_seen for r in hop.audit.records} == {current}, hop.audit.to_text()
    assert_chain_agrees(testnet, current)


def test_a_rollback_at_the_pending_upgrades_height_replaces_it(testnet, upgrade, harness_options):
    old, new = harness_options.versions[0], harness_options.versions[1]
    with upgrade.chat_traffic() as chats:
        _, height = upgrade.schedule(new, lead_blocks=2 * (voting_blocks(testnet) + 4) + 4)
        assert testnet.chain.partial_upgrade(height).node_version == new
        # the rollback, at the same height while the upgrade is pending: the chain keeps one plan per height
        upgrade.schedule(old, height=height)
        assert testnet.chain.partial_upgrade(height).node_version == old
        testnet.rpc.wait_for_height(height + 3)
        upgrade.drive_management()
    assert_stayed_on(testnet, upgrade, old, height, chats)


@pytest.mark.requires(api_profile="reference")  # the pr228 model keeps the last plan only: it never leaves v0
def test_a_rollback_after_a_pending_upgrade_restores_the_old_prefix(testnet, upgrade, harness_options):
    old, new = harness_options.versions[0], harness_options.versions[1]
    with upgrade.chat_traffic():
        _, h1 = upgrade.schedule(new, lead_blocks=2 * (voting_blocks(testnet) + 4) + 4)
        # proposed while the upgrade is pending, for later: more than the contract's grace after H1
        gap = -(-upgrade.contract.grace_ms // int(testnet.info.block_time_s * 1000)) + 6
        _, h2 = upgrade.schedule(old, lead_blocks=h1 - testnet.rpc.height() + gap)
        upgrade.await_switch(new, h1)
        upgrade.await_switch(old, h2)
        upgrade.wait_past_due()
        upgrade.drive_management()
    report = upgrade.audit_now()
    assert report.passed, report.to_text()
    # between H1 and H2 the new version answered the users' chats
    back = upgrade.timing(hop=-1)
    served = [r for r in report.records if r.version_seen == new and r.port_class == "inference" and r.logged_ms < back.from_ms]
    assert served, f"no chat was answered by {new} between H1 and H2\n{report.to_text()}"
    assert_chain_agrees(testnet, old)
    # the old version stopped at H1, the new one at H2: once each per node
    stops = sorted((s.hop, s.old_version, s.status, s.repeated) for s in report.stops)
    assert stops == sorted((k, v, "ok", 0) for k, v in ((1, old), (2, new)) for _ in testnet.mlnodes), report.to_text()
    upgrade.wait_quiet()
    assert testnet.api.chat("after the rollback").content.endswith(old)


@pytest.mark.requires("chain_poc")  # a real chain's own PoC phases
def test_upgrade_height_inside_a_chain_poc_phase(testnet, upgrade, harness_options):
    new = harness_options.versions[1]
    hop = upgrade.hop(new, inside_poc=True)
    assert upgrade.epochs.window_at(hop.upgrade_height) is not None, f"H {hop.upgrade_height} is not in a PoC phase"
    assert_hop_clean(hop, testnet)
