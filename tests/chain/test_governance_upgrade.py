"""A partial upgrade scheduled through governance on simnet, driven exactly as against a real Gonka node:
signed MsgSubmitProposal(MsgCreatePartialUpgrade) + MsgVote over CometBFT JSON-RPC, observed per block."""

from __future__ import annotations

import pytest

from harness import proto
from harness.chain import DEV_MNEMONIC, DEV_USER_MNEMONIC, ChainClient, Key, gov_module_address
from harness.chain.client import ProposalNotPassed, UpgradeTooSoon, vote_too_late
from harness.chain.schedule import propose_until_passed
from harness.cometbft import BlockTimeline
from harness.errors import ConfigError, QueryError, TxError
from harness.util.wait import wait_until


@pytest.fixture(scope="module")
def validator() -> Key:
    return Key.from_mnemonic(DEV_MNEMONIC, name="validator")


def test_chain_identity_and_gov_params(gov_chain, validator):
    assert gov_chain.chain_id == "gonka-testnet"
    assert gov_chain.module_account_address("gov") == gov_module_address() == gov_chain.gov_authority()
    assert gov_chain.min_deposit() > 0
    assert gov_chain.voting_period_s() > 0
    # genesis accounts are numbered in genesis order (the dev key first); no tx was signed on this chain yet
    assert gov_chain.account(validator.address) == (0, 0)
    assert gov_chain.current_plan() is None


def test_scheduled_upgrade_switches_version_at_h(gov_simnet, gov_chain, validator):
    def pick(extra: int) -> int:  # room for a proposal included a few blocks late; further out when the chain outran it
        return gov_chain.earliest_upgrade_height()[0] + 5 + extra

    with BlockTimeline(gov_simnet.rpc_url) as timeline:
        outcome, h = propose_until_passed(gov_chain, "v0.3.9", pick, proposer=validator, voters=[validator])
        assert outcome.upgrade_height == h
        assert 0 < outcome.submit_height <= outcome.passed_height < h
        prop = gov_chain.proposal(outcome.proposal_id)
        assert proto.gov_pb2.ProposalStatus.Name(prop.status) == "PROPOSAL_STATUS_PASSED"
        get = proto.inference_pb2.QueryGetPartialUpgradeRequest(height=h)
        entry = gov_chain.rpc.query(proto.Q_PARTIAL_UPGRADE, get, height=outcome.passed_height).partialUpgrade
        assert entry.node_version == "v0.3.9"
        assert entry.name == f"PartialUpgrade at height {h} for node version v0.3.9"
        assert gov_chain.partial_upgrade(h + 1000) is None

        timeline.wait_for_height(h + 2, timeout_s=gov_chain.rpc.deadline_for_blocks(h + 2 - gov_chain.height()))
        assert gov_chain.mlnode_version(height=h - 1) == "v0.3.8"
        assert gov_chain.mlnode_version(height=h) == "v0.3.9"
        assert gov_chain.mlnode_version(height=h + 1) == "v0.3.9"
        assert gov_chain.mlnode_version() == "v0.3.9"
        # EndBlock deletes entries below the current height: present through H, gone from H+1 on.
        req = proto.inference_pb2.QueryAllPartialUpgradeRequest()
        assert [u.height for u in gov_chain.rpc.query(proto.Q_PARTIAL_UPGRADE_ALL, req, height=h).partialUpgrade] == [h]
        assert list(gov_chain.rpc.query(proto.Q_PARTIAL_UPGRADE_ALL, req, height=h + 1).partialUpgrade) == []
        assert gov_chain.partial_upgrade(h) is None
        assert gov_chain.partial_upgrades() == []
        seen = [b.height for b in timeline.blocks()]
        assert set(range(h - 1, h + 3)) <= set(seen)
        assert seen == sorted(seen)
        assert len(seen) == len(set(seen))


def test_a_proposal_included_too_late_is_not_voted_on(gov_chain, validator, monkeypatch):
    # A loaded machine: the proposal lands in block H-1, so its voting period would end after H. It is refused, and no
    # vote is sent. H leaves 20 blocks of room over the earliest height, so the check made before submitting passes
    # however long this test process stalls before making it (the chain runs on while it does).
    earliest, _ = gov_chain.earliest_upgrade_height()
    height = earliest + 20
    real_submit = gov_chain.submit

    def late_submit(msgs, key, **kw):
        if type(msgs[0]).__name__ == "MsgSubmitProposal":
            gov_chain.rpc.wait_for_height(height - 1, timeout_s=20)
        return real_submit(msgs, key, **kw)

    monkeypatch.setattr(gov_chain, "submit", late_submit)
    with pytest.raises(UpgradeTooSoon, match=r"was included at height \d+ \(\d+ blocks after .*was not voted on") as ei:
        gov_chain.propose_partial_upgrade("v0.3.10", height, proposer=validator, voters=[validator])
    assert ei.value.late_by_blocks >= 4  # what the hop adds to the next attempt's room (at least the voting period + 2)
    proposal_id = int(str(ei.value).split()[1])
    # the one validator's YES would have passed it; unvoted, it ends REJECTED at its voting end and stores no plan
    statuses = proto.gov_pb2.ProposalStatus
    voting = statuses.Value("PROPOSAL_STATUS_VOTING_PERIOD")
    ended = wait_until(lambda: (p := gov_chain.proposal(proposal_id)).status != voting and p, timeout_s=10,
                       what=f"proposal {proposal_id} to leave its voting period")  # fmt: skip
    assert statuses.Name(ended.status) == "PROPOSAL_STATUS_REJECTED"
    assert gov_chain.partial_upgrade(height) is None


def test_malformed_version_is_refused_before_anything_is_sent(gov_chain, validator):
    before = gov_chain.account(validator.address)
    earliest, _ = gov_chain.earliest_upgrade_height()
    for bad in ("0.3.10", "v0.3", "v0.3.9-rc1", ""):
        with pytest.raises(ConfigError, match="vMAJOR.MINOR.PATCH"):
            gov_chain.propose_partial_upgrade(bad, earliest + 5, proposer=validator, voters=[validator])
    assert gov_chain.account(validator.address) == before  # no tx was signed or sent


def test_height_inside_voting_period_is_refused_with_numbers(gov_chain, validator):
    current = gov_chain.height()
    with pytest.raises(
        ConfigError, match=rf"upgrade height {current + 1} is not after the voting period end: current height \d+"
    ):
        gov_chain.propose_partial_upgrade("v0.3.10", current + 1, proposer=validator, voters=[validator])
    with pytest.raises(ConfigError, match="no voters"):
        gov_chain.propose_partial_upgrade("v0.3.10", current + 100, proposer=validator, voters=[])


def test_several_txs_in_a_row_track_the_sequence(gov_chain, validator):
    # Two direct MsgCreatePartialUpgrade with the wrong authority: CheckTx passes, DeliverTx fails with the real text,
    # and the sequence still advances (the ante handler ran), so the next tx in a row is accepted too.
    _, seq0 = gov_chain.account(validator.address)
    bad = proto.MsgCreatePartialUpgrade(authority=validator.address, height=10_000, nodeVersion="v0.3.10")
    for _ in range(2):
        with pytest.raises(TxError) as ei:
            gov_chain.submit([bad], validator)
        assert ei.value.stage == "DeliverTx"
        assert f"invalid authority; expected {gov_module_address()}, got {validator.address}" in ei.value.log
    assert gov_chain.account(validator.address)[1] == seq0 + 2


def test_wrong_chain_id_is_rejected_at_checktx(gov_simnet, validator):
    with ChainClient(gov_simnet.rpc_url, chain_id="gonka-mainnet") as wrong:
        vote = proto.gov_tx_pb2.MsgVote(proposal_id=1, voter=validator.address, option=proto.gov_pb2.VOTE_OPTION_YES)
        with pytest.raises(TxError) as ei:
            wrong.submit([vote], validator)
        assert ei.value.stage == "CheckTx"
        assert ei.value.code != 0


def test_unknown_account_query_names_the_fix(gov_chain):
    stranger = Key.from_mnemonic(DEV_USER_MNEMONIC, index=7)
    with pytest.raises(QueryError, match="fund it"):
        gov_chain.account(stranger.address)


def _late_vote(*, cast: bool):
    """cast_votes as on a loaded machine: the votes (`cast`: all but the refused one) land, then a vote comes after
    the voting period and gov refuses it ("inactive proposal")."""
    from harness.chain import proposals

    def votes(chain, proposal_id, voters, **kw):
        if cast:
            proposals.cast_votes(chain, proposal_id, voters, **kw)
        raise TxError("DeliverTx", 3, "gov: failed to execute message; message index: 0: 4: inactive proposal")

    return votes


def test_a_late_vote_is_no_failure_when_the_proposal_passed_all_the_same(gov_chain, validator, monkeypatch):
    """One vote of several refused as too late while the others carried the proposal: it passed, the chain applies
    the plan, and proposing again elsewhere would schedule the same version twice."""
    monkeypatch.setattr("harness.chain.client.cast_votes", _late_vote(cast=True))
    height = gov_chain.earliest_upgrade_height()[0] + 5
    outcome = gov_chain.propose_partial_upgrade("v0.3.9", height, proposer=validator, voters=[validator])
    assert outcome.upgrade_height == height
    assert gov_chain.partial_upgrade(height) is not None


def test_a_late_vote_fails_the_proposal_when_it_did_not_pass(gov_chain, validator, monkeypatch):
    """The proposal's end is what the caller learns (test_network.py's no-quorum scenario matches its status), with the
    late vote named as the likely reason, so that the hop's retry (vote_too_late) proposes again."""
    monkeypatch.setattr("harness.chain.client.cast_votes", _late_vote(cast=False))
    height = gov_chain.earliest_upgrade_height()[0] + 5
    with pytest.raises(ProposalNotPassed, match=r"ended as PROPOSAL_STATUS_REJECTED .*inactive proposal") as ei:
        gov_chain.propose_partial_upgrade("v0.3.9", height, proposer=validator, voters=[validator])
    assert vote_too_late(ei.value)
    assert gov_chain.partial_upgrade(height) is None


def test_a_proposal_voted_down_in_time_is_no_late_vote(gov_chain, validator, monkeypatch):
    monkeypatch.setattr("harness.chain.client.cast_votes", lambda *a, **kw: None)  # no vote: it misses its quorum
    height = gov_chain.earliest_upgrade_height()[0] + 5
    with pytest.raises(ProposalNotPassed, match="PROPOSAL_STATUS_REJECTED") as ei:
        gov_chain.propose_partial_upgrade("v0.3.9", height, proposer=validator, voters=[validator])
    assert not vote_too_late(ei.value)


def test_the_retry_proposes_again_after_a_proposal_lost_to_a_late_vote(gov_chain, validator, monkeypatch):
    """The first proposal's only vote comes too late and it is rejected; the shared retry (hop and `harness upgrade`)
    proposes again, further out, and that one passes. A rejection without a late vote is raised as it came."""
    from harness.chain import proposals

    calls: list[int] = []

    def first_vote_late(chain, proposal_id, voters, **kw):
        calls.append(proposal_id)
        if len(calls) == 1:
            raise TxError("DeliverTx", 3, "gov: failed to execute message; message index: 0: 4: inactive proposal")
        proposals.cast_votes(chain, proposal_id, voters, **kw)

    monkeypatch.setattr("harness.chain.client.cast_votes", first_vote_late)
    first = gov_chain.earliest_upgrade_height()[0] + 5
    outcome, height = propose_until_passed(gov_chain, "v0.3.9", lambda extra: first + extra, proposer=validator,
                                           voters=[validator])  # fmt: skip
    assert len(calls) == 2 and outcome.proposal_id == calls[1]  # noqa: PT018
    assert height > first and gov_chain.partial_upgrade(height) is not None  # noqa: PT018
    assert gov_chain.partial_upgrade(first) is None

    monkeypatch.setattr("harness.chain.client.cast_votes", lambda *a, **kw: None)
    with pytest.raises(ProposalNotPassed, match="PROPOSAL_STATUS_REJECTED"):
        propose_until_passed(gov_chain, "v0.3.9", lambda extra: height + 10 + extra, proposer=validator,
                             voters=[validator])  # fmt: skip
