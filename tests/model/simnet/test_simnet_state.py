"""simnet's application logic without a server: the partial-upgrade EndBlock rule, gov tally, snapshots per
height, the genesis file, and the event query language."""

from __future__ import annotations

import json

import pytest

from harness.chain.keys import DEV_MNEMONIC, Key
from harness.errors import ConfigError
from harness.model.simnet import Genesis
from harness.model.simnet.numbers import DEC_ONE
from harness.model.simnet.query import QueryParseError, parse_query
from harness.model.simnet.state import ST_PASSED, ST_REJECTED, VOTE_NO, VOTE_YES, ChainState, Proposal
from harness.model.simnet.txs import TxProcessor
from harness.proto import TYPE_MSG_CREATE_PARTIAL_UPGRADE, MsgCreatePartialUpgrade


def run_blocks(state: ChainState, start: int, end: int, txp: TxProcessor | None = None) -> dict[int, str]:
    """EndBlock + commit for heights start..end; returns MLNodeVersion after each."""
    out = {}
    for h in range(start, end + 1):
        state.end_block(h, h * 10**9, txp.executor() if txp else None)
        state.commit(h)
        out[h] = state.store.mlnode_version
    return out


def test_upgrade_sets_version_at_h_and_entry_is_removed_after():
    st = ChainState(Genesis())
    up = st.set_partial_upgrade(10, "v0.3.9", "")
    assert up.name == "PartialUpgrade at height 10 for node version v0.3.9"
    versions = run_blocks(st, 1, 12)
    assert versions[9] == "v0.3.8"
    assert versions[10] == versions[11] == "v0.3.9"
    assert 10 in st.view(10).upgrades  # still there at the end of H
    assert st.view(11).upgrades == {}  # removed at the end of H+1
    assert st.view(9).mlnode_version == "v0.3.8"


def test_entries_are_keyed_by_height_and_overwritten():
    st = ChainState(Genesis())
    st.set_partial_upgrade(20, "v0.3.9", "")
    st.set_partial_upgrade(20, "v0.3.10", "")
    st.set_partial_upgrade(25, "", '{"binaries":{}}')  # api binaries only: never changes the MLNode version
    assert sorted(st.store.upgrades) == [20, 25]
    assert st.store.upgrades[20].node_version == "v0.3.10"
    versions = run_blocks(st, 1, 26)
    assert versions[19] == "v0.3.8"
    assert versions[20] == versions[26] == "v0.3.10"
    assert st.store.upgrades == {}


def _proposal(st: ChainState, votes: dict[str, int], end_height: int) -> Proposal:
    msg = MsgCreatePartialUpgrade(authority=st.gov_address, height=end_height + 3, nodeVersion="v0.3.9")
    from google.protobuf.any_pb2 import Any

    p = Proposal(1, [Any(type_url=TYPE_MSG_CREATE_PARTIAL_UPGRADE, value=msg.SerializeToString())], "x", 0, 10**15)
    p.status, p.voting_end_height, p.votes = 2, end_height, votes
    st.store.proposals[1] = p
    return p


def test_tally_passes_with_majority_and_executes_messages():
    st = ChainState(Genesis())
    validator = Key.from_mnemonic(DEV_MNEMONIC).address
    p = _proposal(st, {validator: [(VOTE_YES, DEC_ONE)]}, end_height=3)
    run_blocks(st, 1, 2, TxProcessor(st))
    assert p.status == 2  # still voting before its end height
    run_blocks(st, 3, 3, TxProcessor(st))
    assert p.status == ST_PASSED
    assert p.tally[VOTE_YES] == 10_000_000  # tokens: power 10 x 10^6
    assert st.store.upgrades[6].node_version == "v0.3.9"
    assert run_blocks(st, 4, 6)[6] == "v0.3.9"


@pytest.mark.parametrize("votes", [{}, "no"])
def test_tally_rejects_without_majority(votes):
    st = ChainState(Genesis())
    validator = Key.from_mnemonic(DEV_MNEMONIC).address
    p = _proposal(st, {validator: [(VOTE_NO, DEC_ONE)]} if votes == "no" else {}, end_height=2)
    run_blocks(st, 1, 2, TxProcessor(st))
    assert p.status == ST_REJECTED
    assert st.store.upgrades == {}


def test_view_of_future_and_pruned_heights():
    st = ChainState(Genesis())
    run_blocks(st, 1, 3)
    from harness.model.simnet.state import AbciError

    with pytest.raises(AbciError) as ei:
        st.view(9)
    assert ei.value.code == 26
    assert "cannot query with height in the future" in ei.value.log


# -- genesis -----------------------------------------------------------------------------------
def test_genesis_defaults():
    g = Genesis()
    assert g.chain_id == "gonka-testnet"
    assert g.initial_mlnode_version == "v0.3.8"
    assert g.min_deposit == 1000
    assert g.voting_period_blocks == 5
    assert len(g.validators) == 1
    assert g.validators[0].address == Key.from_mnemonic(DEV_MNEMONIC).address
    assert len(g.accounts) == 2


def test_genesis_from_file_yaml_and_json(tmp_path):
    y = tmp_path / "g.yaml"
    y.write_text(
        "chain_id: sim-1\nblock_time_s: 0.1\nvoting_period_s: 2\nvalidators:\n  - {mnemonic: '" + DEV_MNEMONIC + "', power: 7}\n"
    )
    g = Genesis.from_file(y)
    assert (g.chain_id, g.voting_period_blocks, g.voting_period_s, g.total_power) == ("sim-1", None, 2, 7)
    j = g.write(tmp_path / "g.json")
    g2 = Genesis.from_file(j)
    assert g2.to_dict() == g.to_dict()


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ({"chain_idd": "x"}, "unknown key 'chain_idd'"),
        ({"initial_mlnode_version": "0.3.8"}, "vMAJOR.MINOR.PATCH"),
        ({"block_time_s": -1}, "block_time_s"),
        ({"voting_period_blocks": 3, "voting_period_s": 2}, "not both"),
        ({"min_deposit": 0}, "min_deposit"),
        ({"accounts": {"cosmos1xyz": 5}}, "not a valid bech32"),
        ({"validators": []}, "at least one validator"),
        ({"validators": [{"power": 3}]}, "exactly one of mnemonic or pub_key_hex"),
        ({"validators": [{"mnemonic": DEV_MNEMONIC, "stake": 3}]}, "unknown key 'stake'"),
    ],
)
def test_genesis_file_errors_name_the_problem(tmp_path, content, match):
    p = tmp_path / "genesis.json"
    p.write_text(json.dumps(content))
    with pytest.raises(ConfigError, match=match) as ei:
        Genesis.from_file(p)
    assert str(p) in str(ei.value)


def test_genesis_file_unreadable_or_not_yaml(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        Genesis.from_file(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("chain_id: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        Genesis.from_file(bad)


# -- event queries -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "events", "expected"),
    [
        ("tm.event='NewBlock'", {"tm.event": ["NewBlock"]}, True),
        ("tm.event='NewBlock'", {"tm.event": ["Tx"]}, False),
        ("tm.event='Tx' AND message.module='inference'", {"tm.event": ["Tx"], "message.module": ["gov", "inference"]}, True),
        ("tm.event='Tx' AND message.module='bls'", {"tm.event": ["Tx"], "message.module": ["inference"]}, False),
        ("tm.event='Tx' AND message.action='/cosmos.authz.v1beta1.MsgExec'", {"tm.event": ["Tx"]}, False),
        ("tx.height >= 5 AND tx.height < 6", {"tx.height": ["5"]}, True),
        ("message.action CONTAINS 'gov'", {"message.action": ["/cosmos.gov.v1.MsgVote"]}, True),
        ("submit_proposal.proposal_id EXISTS", {"submit_proposal.proposal_id": ["1"]}, True),
        ("submit_proposal.proposal_id EXISTS", {}, False),
    ],
)
def test_query_matching(query, events, expected):
    assert parse_query(query).matches(events) is expected


@pytest.mark.parametrize("bad", ["", "tm.event=NewBlock", "tm.event='x' OR a='b'", "= 'x'", "tm.event"])
def test_query_syntax_errors(bad):
    with pytest.raises(QueryParseError):
        parse_query(bad)
