"""UpgradeRunner.schedule on a loaded machine: a height that came too close while proposing (refused before signing,
or passed at/after the height) is proposed again past the earliest height read anew, with two more blocks of margin
each time, at most ATTEMPTS times, saying so; a PASSED read late is no failure when the chain took the upgrade."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from harness.backends.contract import TestnetInfo
from harness.chain.client import ProposalOutcome, UpgradePassedTooLate, UpgradeTooSoon
from harness.drive.hop import ATTEMPTS, UpgradeRunner


class ScriptedChainClient:
    """A ChainClient whose proposals fail with the scripted errors first (no chain behind it)."""

    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.heights: list[int] = []
        self.earliest = 20

    def height(self) -> int:
        return 10

    def tracks_mlnode_version(self) -> bool:
        return True

    def mlnode_version(self) -> str:
        return "v0.3.8"

    def earliest_upgrade_height(self):
        self.earliest += 3  # the chain moves on between attempts
        return self.earliest, {}

    def propose_partial_upgrade(self, version, height, *, proposer, voters):
        self.heights.append(height)
        if self.failures:
            raise self.failures.pop(0)
        return ProposalOutcome(7, height - 6, height - 2, height)


def runner(chain: ScriptedChainClient) -> tuple[UpgradeRunner, list[str]]:
    said: list[str] = []
    tn = SimpleNamespace(
        info=TestnetInfo("embedded", "gonka-testnet", 0.2, "v0.3.8", "reference", "single"),
        capabilities=frozenset(),
        chain=chain,
        rpc=SimpleNamespace(height=lambda: 10),
        validator_keys=lambda: ["key-0", "key-1"],
        participants=[],  # no chaos proxy: nothing is held
        last_runner=None,
    )
    return UpgradeRunner(tn, progress=said.append), said


def test_a_height_that_came_too_close_is_proposed_again_further_out():
    chain = ScriptedChainClient([UpgradeTooSoon("upgrade height 25 is not after the voting period end"),
                       UpgradePassedTooLate("proposal 3 passed at height 28, not before upgrade height 28")])  # fmt: skip
    r, said = runner(chain)
    assert r.schedule("v0.3.9") == (7, chain.heights[-1])
    # past the earliest height read each time (23, 26, 29: the chain moved on), two more blocks each attempt
    assert chain.heights == [24, 29, 34]
    assert [m for m in said if "proposing again" in m] == [
        "proposal for height 24 too late (UpgradeTooSoon); proposing again",
        "proposal for height 29 too late (UpgradePassedTooLate); proposing again",
    ]


def test_a_proposal_included_late_is_proposed_again_with_that_much_more_room():
    # included 6 blocks after the height read before it: the next one leaves 6 more blocks (and 2 for the attempt)
    chain = ScriptedChainClient([UpgradeTooSoon("proposal 1 was included at height 30 (6 blocks after ...)", late_by_blocks=6)])
    r, _ = runner(chain)
    r.schedule("v0.3.9")
    assert chain.heights == [24, 26 + 1 + 2 + 6]


def test_scheduling_gives_up_after_its_attempts():
    chain = ScriptedChainClient([UpgradeTooSoon(f"too close #{i}") for i in range(ATTEMPTS)])
    r, _ = runner(chain)
    with pytest.raises(UpgradeTooSoon, match=f"too close #{ATTEMPTS - 1}"):
        r.schedule("v0.3.9")
    assert len(chain.heights) == ATTEMPTS


def test_other_failures_are_not_retried():
    from harness.errors import ChainError

    chain = ScriptedChainClient([ChainError("PROPOSAL_STATUS_REJECTED: not enough votes")])
    r, _ = runner(chain)
    with pytest.raises(ChainError, match="REJECTED"):
        r.schedule("v0.3.9")
    assert len(chain.heights) == 1


def test_a_passed_upgrade_read_late_still_counts_when_the_chain_took_it():
    """The client reads PASSED by polling: on a loaded machine the read may come at or after the upgrade height. The
    proposal only failed when the chain holds no such upgrade and did not switch at that height."""
    from harness.chain.client import ChainClient
    from harness.model.simnet import Genesis, Simnet
    from harness.model.simnet.genesis import dev_validator_keys
    from harness.util.wait import wait_until

    keys = dev_validator_keys(1)
    with Simnet(Genesis.with_validators(1, block_time_s=0.05, voting_period_blocks=3), port=0) as sim:
        wait_until(lambda: sim.height >= 2, timeout_s=10, what="simnet height >= 2")
        with ChainClient(sim.rpc_url) as c:
            h = c.earliest_upgrade_height()[0] + 10  # 0.05 s blocks: room for a proposal included late under load
            c.propose_partial_upgrade("v0.3.9", h, proposer=keys[0], voters=keys)
            assert c._upgrade_took("v0.3.9", h)  # stored, pending
            assert not c._upgrade_took("v0.3.10", h)
            assert not c._upgrade_took("v0.3.9", h + 1)
            c.rpc.wait_for_height(h + 2, timeout_s=10)
            assert c.partial_upgrades() == []
            assert c._upgrade_took("v0.3.9", h)  # applied: MLNodeVersion at h is the new version
            assert not c._upgrade_took("v0.3.9", h - 1)


def test_votes_after_the_voting_period_are_proposed_again():
    from harness.errors import TxError

    late_vote = TxError("DeliverTx", 3, "gov: 1: inactive proposal", "AB" * 32)
    chain = ScriptedChainClient([late_vote])
    r, said = runner(chain)
    assert r.schedule("v0.3.9") == (7, chain.heights[-1])
    assert len(chain.heights) == 2
    assert "too late (TxError); proposing again" in said[1]
    other = ScriptedChainClient([TxError("DeliverTx", 5, "insufficient funds", "CD" * 32)])
    with pytest.raises(TxError, match="insufficient funds"):
        runner(other)[0].schedule("v0.3.9")


def test_a_proposal_lost_to_a_late_vote_is_proposed_again_and_a_plain_rejection_is_not():
    from harness.chain.client import ProposalNotPassed
    from harness.errors import TxError

    late_vote = TxError("DeliverTx", 3, "gov: 1: inactive proposal", "AB" * 32)
    chain = ScriptedChainClient([ProposalNotPassed(5, "PROPOSAL_STATUS_REJECTED", "no quorum", late_vote=late_vote)])
    r, said = runner(chain)
    assert r.schedule("v0.3.9") == (7, chain.heights[-1])
    assert len(chain.heights) == 2
    assert "too late (ProposalNotPassed); proposing again" in said[1]
    voted_down = ScriptedChainClient([ProposalNotPassed(6, "PROPOSAL_STATUS_REJECTED", "no quorum")])
    with pytest.raises(ProposalNotPassed, match="ended as PROPOSAL_STATUS_REJECTED"):
        runner(voted_down)[0].schedule("v0.3.9")
    assert len(voted_down.heights) == 1


def test_spare_blocks_put_the_height_that_much_further_out():
    plain, spared = ScriptedChainClient([]), ScriptedChainClient([])
    runner(plain)[0].schedule("v0.3.9")
    runner(spared)[0].schedule("v0.3.9", spare_blocks=4)
    assert spared.heights == [plain.heights[0] + 4]
