"""Several validators on simnet, each with its own key and voting power, and gov v1's tally as x/gov does it over
bonded tokens: quorum, all-abstain, veto (deposits burned), threshold, weighted votes; a proposal can fail for
lack of quorum and then changes nothing."""

from __future__ import annotations

import pytest
from google.protobuf.any_pb2 import Any

from harness import proto
from harness.chain.client import ChainClient
from harness.errors import ChainError, ConfigError
from harness.model.simnet import Genesis, Simnet
from harness.model.simnet.genesis import dev_validator_keys
from harness.model.simnet.gov import ST_PASSED, ST_REJECTED, VOTE_ABSTAIN, VOTE_NO, VOTE_VETO, VOTE_YES, Proposal
from harness.model.simnet.numbers import DEC_ONE, parse_dec
from harness.model.simnet.state import ChainState
from harness.util.wait import wait_until

ONE = DEC_ONE


def voting_proposal(st: ChainState, votes: dict[str, list[tuple[int, int]]], *, expedited: bool = False) -> Proposal:
    msg = proto.MsgCreatePartialUpgrade(authority=st.gov_address, height=10_000, nodeVersion="v0.3.9")
    p = Proposal(1, [Any(type_url=proto.TYPE_MSG_CREATE_PARTIAL_UPGRADE, value=msg.SerializeToString())], "x", 0, 10**18)
    p.status, p.votes, p.expedited = 2, votes, expedited
    return p


def tally(powers: list[int], votes: dict[int, list[tuple[int, int]]], **gov) -> tuple[bool, bool, dict[int, int]]:
    g = Genesis.with_validators(len(powers), powers=powers, **({"gov": gov} if gov else {}))
    st = ChainState(g)
    addrs = [v.address for v in g.validators]
    return st.gov.tally(voting_proposal(st, {addrs[i]: o for i, o in votes.items()}))


@pytest.mark.parametrize(
    ("powers", "votes", "passes", "burn"),
    [
        ([10, 10, 10], {0: [(VOTE_YES, ONE)]}, False, False),  # 1/3 = 0.3333 < quorum 0.334
        ([10, 10, 10], {0: [(VOTE_YES, ONE)], 1: [(VOTE_YES, ONE)]}, True, False),
        ([10, 10, 10], {0: [(VOTE_YES, ONE)], 1: [(VOTE_NO, ONE)]}, False, False),  # 1/2 is not > threshold 0.5
        ([10, 10, 10], {0: [(VOTE_YES, ONE)], 1: [(VOTE_VETO, ONE)]}, False, True),  # veto 1/2 > 0.334: burned
        ([10, 10, 10], {0: [(VOTE_ABSTAIN, ONE)], 1: [(VOTE_ABSTAIN, ONE)]}, False, False),  # everyone abstains
        ([10, 10, 10], {0: [(VOTE_YES, ONE)], 1: [(VOTE_ABSTAIN, ONE)]}, True, False),  # abstain counts for quorum only
        ([40, 30, 20, 10], {0: [(VOTE_YES, ONE)]}, True, False),  # 40% of the bonded tokens is a quorum
        ([40, 30, 20, 10], {3: [(VOTE_YES, ONE)]}, False, False),
        (
            [10, 10, 10],
            {0: [(VOTE_YES, parse_dec("0.6", "w")), (VOTE_NO, parse_dec("0.4", "w"))], 1: [(VOTE_YES, ONE)]},
            True,
            False,
        ),
    ],
)
def test_tally_rules(powers, votes, passes, burn):
    assert tally(powers, votes)[:2] == (passes, burn)


def test_tally_counts_bonded_tokens_and_ignores_non_validators():
    g = Genesis.with_validators(3, powers=[5, 3, 2])
    st = ChainState(g)
    user = next(a for a in g.accounts if a not in {v.address for v in g.validators})
    p = voting_proposal(st, {g.validators[1].address: [(VOTE_NO, ONE)], user: [(VOTE_YES, ONE)]})
    passes, _, counts = st.gov.tally(p)
    assert counts == {VOTE_YES: 0, VOTE_ABSTAIN: 0, VOTE_NO: 3_000_000, VOTE_VETO: 0}
    assert not passes


def test_gov_params_from_genesis():
    assert tally([10, 10, 10], {0: [(VOTE_YES, ONE)]}, quorum="0.3")[0] is True
    with pytest.raises(ConfigError, match="gov.threshold"):
        Genesis(gov={"threshold": "1.5"})
    with pytest.raises(ConfigError, match="unknown key 'quorom'"):
        Genesis.from_dict({"gov": {"quorom": "0.5"}})


def test_validator_keys_and_genesis_checks():
    keys = dev_validator_keys(5)
    g = Genesis.with_validators(5, powers=[1, 2, 3, 4, 5])
    assert [v.address for v in g.validators] == [k.address for k in keys]
    assert len({k.address for k in keys}) == 5
    assert g.total_power == 15
    assert all(g.accounts[k.address] > 0 for k in keys)  # each validator can pay for its votes
    with pytest.raises(ConfigError, match="the same key is given twice"):
        Genesis(validators=[g.validators[0], g.validators[0]])
    with pytest.raises(ConfigError, match="2 powers"):
        Genesis.with_validators(3, powers=[1, 2])


@pytest.fixture(scope="module")
def net3():
    with Simnet(Genesis.with_validators(3, block_time_s=0.05, voting_period_blocks=4), port=0) as sim:
        wait_until(lambda: sim.height >= 3, timeout_s=10, what="simnet height >= 3")
        yield sim


def test_three_validators_on_the_wire(net3):
    with ChainClient(net3.rpc_url) as c:
        vals = c.rpc.call("validators", {})
        block = c.rpc.call("block", {})
    assert vals["total"] == "3"
    assert {v["voting_power"] for v in vals["validators"]} == {"10"}
    assert len(block["block"]["last_commit"]["signatures"]) == 3
    proposers = {net3.node.blocks[h].json["header"]["proposer_address"] for h in (1, 2, 3)}
    assert len(proposers) == 3  # the proposer rotates


def test_proposal_without_quorum_is_rejected_and_changes_nothing(net3):
    keys = dev_validator_keys(3)
    with ChainClient(net3.rpc_url) as c:
        h = c.earliest_upgrade_height()[0] + 5
        with pytest.raises(ChainError, match="PROPOSAL_STATUS_REJECTED") as ei:
            c.propose_partial_upgrade("v0.3.9", h, proposer=keys[0], voters=keys[:1])
        assert "proposal did not get enough votes to pass" in str(ei.value)
        assert "yes_count" in str(ei.value)
        assert c.partial_upgrades() == []
        outcome = c.propose_partial_upgrade("v0.3.9", c.earliest_upgrade_height()[0] + 5, proposer=keys[0], voters=keys[:2])
    store = net3.node.state.store
    assert store.proposals[outcome.proposal_id].status == ST_PASSED
    assert [p.status for p in store.proposals.values()] == [ST_REJECTED, ST_PASSED]
    assert store.balances[store.module_address("gov")] == {}  # deposits refunded (quorum failure burns nothing)
