"""Every refusal of simnet's message servers against the SDK function it follows (bank msgServer.Send, gov v1
msgServer and keeper, the inference module's ValidateBasic and CreatePartialUpgrade): the same condition,
codespace, code and log. A message's error reaches the tx result as baseapp's runMsgs wraps it ("failed to
execute message; message index: N: ..."), and fails its tx alone: the fee and sequence stay, the messages'
effects go. Each case's id names the SDK function."""

from __future__ import annotations

from collections.abc import Callable

import cosmpy.protos  # noqa: F401  (cosmos.* on sys.path)
import pytest
from cosmos.bank.v1beta1 import tx_pb2 as bank_tx

from harness import proto
from harness.chain.keys import DEV_MNEMONIC, DEV_USER_MNEMONIC, Key, gov_module_address, module_address
from harness.chain.tx import pack_any
from harness.model.simnet.genesis import GovParams
from tests.model.simnet.simnet_support import balance, deliver, fresh_node, signed_tx, signer

VAL, USER = Key.from_mnemonic(DEV_MNEMONIC), Key.from_mnemonic(DEV_USER_MNEMONIC)
GOV = gov_module_address()
WRAP = "failed to execute message; message index: 0: "


def send(frm: str = VAL.address, to: str = USER.address, amount: str | None = "5", denom: str = "ngonka") -> bank_tx.MsgSend:
    msg = bank_tx.MsgSend(from_address=frm, to_address=to)
    if amount is not None:
        msg.amount.add(denom=denom, amount=amount)
    return msg


def proposal(deposit: list[tuple[str, str]] | None = None, **fields: object) -> proto.gov_tx_pb2.MsgSubmitProposal:
    inner = fields.pop("inner", proto.MsgCreatePartialUpgrade(authority=GOV, height=10_000, nodeVersion="v0.3.9"))
    msg = proto.gov_tx_pb2.MsgSubmitProposal(
        messages=[pack_any(inner)] if inner is not None else [], proposer=VAL.address, title="t", summary="s"
    )
    for name, value in fields.items():
        setattr(msg, name, value)
    for denom, amount in [("ngonka", "1000")] if deposit is None else deposit:
        msg.initial_deposit.add(denom=denom, amount=amount)
    return msg


def vote(pid: int = 1, option: int = 1, metadata: str = "") -> proto.gov_tx_pb2.MsgVote:
    return proto.gov_tx_pb2.MsgVote(proposal_id=pid, voter=VAL.address, option=option, metadata=metadata)


def weighted(*options: tuple[int, str], pid: int = 1) -> proto.gov_tx_pb2.MsgVoteWeighted:
    msg = proto.gov_tx_pb2.MsgVoteWeighted(proposal_id=pid, voter=VAL.address)
    for option, weight in options:
        msg.options.add(option=option, weight=weight)
    return msg


def deposit(pid: int = 1, amount: str = "1000", denom: str = "ngonka") -> proto.gov_tx_pb2.MsgDeposit:
    msg = proto.gov_tx_pb2.MsgDeposit(proposal_id=pid, depositor=VAL.address)
    msg.amount.add(denom=denom, amount=amount)
    return msg


# (message, codespace, code, log after the runMsgs prefix, or node -> it); proposal 1 is in its voting period,
# 2 in its deposit period, 3 rejected (see the fixture)
CASES: dict[str, tuple[Callable[[], object], str, int, str | Callable[..., str]]] = {
    "bank msgServer.Send: recipient address": (
        lambda: send(to="gonka1xyz"), "sdk", 7,
        "invalid to address: decoding bech32 failed: invalid separator index 5: invalid address"),
    "bank msgServer.Send: Coins.IsValid (denom)": (lambda: send(denom="X"), "sdk", 10, "5X: invalid coins"),
    "bank msgServer.Send: Coins.IsValid (zero)": (lambda: send(amount="0"), "sdk", 10, "0ngonka: invalid coins"),
    "bank msgServer.Send: Coins.IsAllPositive (no coins)": (lambda: send(amount=None), "sdk", 10, ": invalid coins"),
    "bank msgServer.Send: BlockedAddr (a module account that does not exist yet)": (
        lambda: send(to=module_address("distribution")), "sdk", 4,
        f"{module_address('distribution')} is not allowed to receive funds: unauthorized"),
    "bank BaseSendKeeper.subUnlockedCoins: insufficient funds": (
        lambda: send(amount=str(10**30)), "sdk", 5,
        lambda node: f"spendable balance {balance(node, VAL.address)}ngonka is smaller than {10**30}ngonka: insufficient funds"),
    "gov msgServer.SubmitProposal: title": (
        lambda: proposal(title=""), "sdk", 18, "proposal title cannot be empty: invalid request"),
    "gov msgServer.SubmitProposal: summary": (
        lambda: proposal(summary=""), "sdk", 18, "proposal summary cannot be empty: invalid request"),
    "gov msgServer.SubmitProposal: no messages, no metadata": (
        lambda: proposal(inner=None), "gov", 11, "either metadata or Msgs length must be non-nil: no messages proposed"),
    "gov msgServer.SubmitProposal: metadata title": (
        lambda: proposal(metadata='{"Title": "other", "summary": "s"}'), "gov", 5,
        "metadata title 'other' must equal proposal title 't': invalid proposal content"),
    "gov msgServer.SubmitProposal: metadata summary": (
        lambda: proposal(metadata='{"title": "t"}'), "gov", 5,
        "metadata summary '' must equal proposal summary 's': invalid proposal content"),
    "gov keeper.validateInitialDeposit: Coins.IsValid": (
        lambda: proposal([("ngonka", "0")]), "sdk", 10, "0ngonka: invalid coins"),
    "gov keeper.validateDepositDenom": (
        lambda: proposal([("stake", "1000")]), "gov", 23,
        "deposited 1000stake, but gov accepts only the following denom(s): [ngonka]: invalid deposit denom"),
    "gov keeper.assertMetadataLength: metadata": (
        lambda: proposal(metadata="m" * 256), "gov", 15, "got metadata with length 256: metadata too long"),
    "gov keeper.assertSummaryLength": (
        lambda: proposal(summary="s" * 10201), "gov", 22, "got summary with length 10201: summary too long"),
    "gov keeper.assertMetadataLength: title": (
        lambda: proposal(title="t" * 256), "gov", 15, "got metadata with length 256: metadata too long"),
    "gov keeper.SubmitProposal: proposal message ValidateBasic": (
        lambda: proposal(inner=proto.MsgCreatePartialUpgrade(authority=GOV, height=0, nodeVersion="v0.3.9")), "gov", 12,
        "height must be > 0: invalid request: invalid proposal message"),
    "gov keeper.SubmitProposal: proposal message signer": (
        lambda: proposal(inner=send()), "gov", 13,
        f"{VAL.address}: expected gov account as only signer for proposal message"),
    "gov keeper.AddDeposit: min_deposit_ratio of an empty initial deposit": (
        lambda: proposal([]), "gov", 16,
        "received  but need at least one of the following: 10ngonka: minimum deposit is too small"),
    "gov keeper.AddDeposit: min_deposit_ratio": (
        lambda: proposal([("ngonka", "9")]), "gov", 16,
        "received 9ngonka but need at least one of the following: 10ngonka: minimum deposit is too small"),
    "gov keeper.AddDeposit: Proposals.Get of a proposal that does not exist (collections.ErrNotFound)": (
        lambda: deposit(pid=99), "undefined", 1,
        "collections: not found: key '99' of type github.com/cosmos/gogoproto/cosmos.gov.v1.Proposal"),
    "gov keeper.AddDeposit: inactive proposal": (lambda: deposit(pid=3), "gov", 3, "3: inactive proposal"),
    "gov msgServer.Deposit: validateDeposit": (lambda: deposit(amount="0"), "sdk", 10, "0ngonka: invalid coins"),
    "gov keeper.AddDeposit: validateDepositDenom": (
        lambda: deposit(denom="stake"), "gov", 23,
        "deposited 1000stake, but gov accepts only the following denom(s): [ngonka]: invalid deposit denom"),
    "gov keeper.AddDeposit: min_deposit_ratio of a deposit": (
        lambda: deposit(pid=2, amount="9"), "gov", 16,
        "received 9ngonka but need at least one of the following: 10ngonka: minimum deposit is too small"),
    "gov msgServer.Vote: ValidVoteOption": (lambda: vote(option=0), "gov", 7, "VOTE_OPTION_UNSPECIFIED: invalid vote option"),
    "gov keeper.AddVote: a proposal that does not exist is inactive": (lambda: vote(pid=99), "gov", 3, "99: inactive proposal"),
    "gov keeper.AddVote: a proposal in its deposit period": (lambda: vote(pid=2), "gov", 3, "2: inactive proposal"),
    "gov keeper.AddVote: assertMetadataLength": (
        lambda: vote(metadata="m" * 256), "gov", 15, "got metadata with length 256: metadata too long"),
    "gov msgServer.VoteWeighted: no options": (lambda: weighted(), "sdk", 18, "null: invalid request"),
    "gov msgServer.VoteWeighted: WeightedVoteOption.IsValid (weight)": (
        lambda: weighted((1, "1.5")), "gov", 7, 'option:1 weight:"1.5" : invalid vote option'),
    "gov msgServer.VoteWeighted: WeightedVoteOption.IsValid (option)": (
        lambda: weighted((9, "1")), "gov", 7, 'option:9 weight:"1" : invalid vote option'),
    "gov msgServer.VoteWeighted: duplicated option": (
        lambda: weighted((1, "0.5"), (1, "0.5")), "gov", 7, "duplicated vote option: invalid vote option"),
    "gov msgServer.VoteWeighted: total over 1": (
        lambda: weighted((1, "0.6"), (3, "0.6")), "gov", 7, "total weight overflow 1.00: invalid vote option"),
    "gov msgServer.VoteWeighted: total under 1": (
        lambda: weighted((1, "0.5")), "gov", 7, "total weight lower than 1.00: invalid vote option"),
    "inference msgServer.CreatePartialUpgrade: authority": (
        lambda: proto.MsgCreatePartialUpgrade(authority=VAL.address, height=5, nodeVersion="v0.3.9"), "inference", 1100,
        f"invalid authority; expected {GOV}, got {VAL.address}: expected gov account as only signer for proposal message"),
}


@pytest.fixture(scope="module")
def node():
    """Proposal 1 in its voting period, 2 in its deposit period, 3 rejected."""
    n = fresh_node()
    for deposit_ngonka in ("1000", "10", "10"):
        deliver(n, signed_tx([proposal([("ngonka", deposit_ngonka)])], [signer(n, VAL)]))
    n.state.store.proposals[3].status = 4  # REJECTED: takes no more deposits
    assert [p.status for p in n.state.store.proposals.values()] == [2, 1, 4]
    return n


@pytest.mark.parametrize("name", list(CASES))
def test_message_refusal_as_the_sdk(node, name):
    make, codespace, code, log = CASES[name]
    key, number, seq = signer(node, VAL)
    before = balance(node, VAL.address)
    result = deliver(node, signed_tx([make()], [(key, number, seq)], fee=[("ngonka", "7")]))
    expected = log(node) if callable(log) else log
    assert (result.codespace, result.code, result.log) == (codespace, code, WRAP + expected)
    assert signer(node, VAL)[2] == seq + 1  # the ante handler's effects stay: sequence and fee
    assert balance(node, VAL.address) == before - 7
    assert not [e for e in result.events if e.type == "message" and dict(e.attributes).get("action")]  # no message ran


def test_nil_coin_amount_panics_in_the_message_server(node):
    """bank msgServer.Send -> Coins.IsValid -> Coin.IsPositive on a nil Int (an empty amount): a Go panic,
    which baseapp recovers without the message index (undefined 111222)."""
    result = deliver(node, signed_tx([send(amount="")], [signer(node, VAL)]))
    assert (result.codespace, result.code, result.log) == (
        "undefined", 111222, "recovered: runtime error: invalid memory address or nil pointer dereference: panic")


@pytest.mark.parametrize(("text", "sent"), [("1_0", 10), ("0x10", 16), ("010", 8), ("+3", 3)])
def test_amounts_decode_as_math_int_does(node, text, sent):
    """math.Int.Unmarshal -> big.Int.UnmarshalText (base 0): prefixes, octal and `_` are accepted."""
    before = balance(node, USER.address)
    assert deliver(node, signed_tx([send(amount=text)], [signer(node, VAL)])).code == 0
    assert balance(node, USER.address) == before + sent


@pytest.mark.parametrize(
    ("authority", "log"),
    [
        ("gonka1xyz", "invalid creator address (decoding bech32 failed: invalid separator index 5): invalid address"),
        ("", "invalid creator address (empty address string is not allowed): invalid address"),
    ],
)
def test_partial_upgrade_validate_basic_runs_before_the_ante_handler(node, authority, log):
    """baseapp validateBasicTxMsgs -> MsgCreatePartialUpgrade.ValidateBasic (sdk.AccAddressFromBech32) comes
    before the ante handler's signer decoding, at CheckTx."""
    msg = proto.MsgCreatePartialUpgrade(authority=authority, height=5, nodeVersion="v0.3.9")
    res = node.admit(signed_tx([msg], [signer(node, VAL)]))[1]
    assert (res.codespace, res.code, res.log) == ("sdk", 7, log)


def test_partial_upgrade_needs_a_version(node):
    """MsgCreatePartialUpgrade.ValidateBasic: nodeVersion and apiBinariesJson both blank after strings.TrimSpace
    (which trims Unicode spaces such as U+3000) is sdk 18, at CheckTx."""
    msg = proto.MsgCreatePartialUpgrade(authority=VAL.address, height=5, nodeVersion=" ", apiBinariesJson="\u3000")
    res = node.admit(signed_tx([msg], [signer(node, VAL)]))[1]
    assert (res.codespace, res.code, res.log) == ("sdk", 18, "either apiBinariesJson or nodeVersion must be set: invalid request")


def test_min_initial_deposit_ratio():
    """gov keeper.validateInitialDeposit: with min_initial_deposit_ratio, the initial deposit must hold min
    deposit x ratio (rounded) of every min-deposit denom (gov 16)."""
    node = fresh_node(gov=GovParams(min_initial_deposit_ratio="0.5"))
    result = deliver(node, signed_tx([proposal([("ngonka", "499")])], [signer(node, VAL)]))
    assert (result.codespace, result.code) == ("gov", 16)
    assert result.log == WRAP + "was (499ngonka), need (500ngonka): minimum deposit is too small"
    assert deliver(node, signed_tx([proposal([("ngonka", "500")])], [signer(node, VAL)])).code == 0


def test_failed_proposal_message_is_logged_as_x_gov_does():
    """x/gov EndBlocker: a passed proposal whose message fails is FAILED, failed_reason = the message's error,
    log "passed, but msg N (type) failed on execution: ..."; a rejected one logs "rejected"."""
    node = fresh_node(voting_period_blocks=2)
    blocked = module_address("fee_collector")
    deliver(node, signed_tx([proposal(inner=send(frm=GOV, to=blocked, amount="1"))], [signer(node, VAL)]))
    deliver(node, signed_tx([vote()], [signer(node, VAL)]))
    deliver(node, signed_tx([proposal()], [signer(node, VAL)]))
    deliver(node, signed_tx([vote(pid=2, option=3)], [signer(node, VAL)]))
    for _ in range(3):
        node.produce_block()
    logs = {
        attrs["proposal_id"]: attrs["proposal_log"]
        for block in node.blocks.values()
        for attrs in (dict(e.attributes) for e in block.finalize_events if e.type == "active_proposal")
    }
    why = f"{blocked} is not allowed to receive funds: unauthorized"
    assert logs == {"1": f"passed, but msg 0 (/cosmos.bank.v1beta1.MsgSend) failed on execution: {why}", "2": "rejected"}
    p1, p2 = node.state.store.proposals[1], node.state.store.proposals[2]
    assert (p1.status, p1.failed_reason) == (5, why)
    assert (p2.status, p2.failed_reason) == (4, "proposal did not get enough votes to pass")
