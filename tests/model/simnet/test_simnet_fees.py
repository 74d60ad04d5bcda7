"""Fees on simnet as the SDK's x/auth takes them on a Gonka chain: a zero fee (no coins, or zero-amount coins
such as `0ngonka`, what CosmJS sends for `GasPrice.fromString("0ngonka")`) is accepted and nothing is
deducted; negative and nil amounts are refused by the tx's ValidateBasic; a non-zero fee must be valid coins the
payer can pay; the fee payer and the fee granter decide who pays. Each test names the SDK function it follows."""

from __future__ import annotations

import cosmpy.protos  # noqa: F401  (cosmos.* on sys.path)
import pytest
from cosmos.bank.v1beta1 import tx_pb2 as bank_tx

from harness.chain.keys import DEV_MNEMONIC, DEV_USER_MNEMONIC, Key
from tests.model.simnet.simnet_support import balance, deliver, fresh_node, signed_tx, signer

VAL, USER = Key.from_mnemonic(DEV_MNEMONIC), Key.from_mnemonic(DEV_USER_MNEMONIC)
NEWCOMER = Key.from_mnemonic(DEV_USER_MNEMONIC, index=7)  # no account on the chain


def send(frm: Key, to: str, amount: str = "5") -> bank_tx.MsgSend:
    msg = bank_tx.MsgSend(from_address=frm.address, to_address=to)
    msg.amount.add(denom="ngonka", amount=amount)
    return msg


@pytest.fixture
def node():
    return fresh_node()


def fee_event(result) -> dict[str, str]:
    return {k: v for e in result.events if e.type == "tx" for k, v in e.attributes if k in ("fee", "fee_payer")}


@pytest.mark.parametrize(
    ("fee", "shown"),
    [
        ([("ngonka", "0")], "0ngonka"),
        ([], ""),
        ([("ngonka", "0"), ("stake", "0")], "0ngonka,0stake"),
        ([("ngonka", "00")], "0ngonka"),  # math.Int reads "00" as octal zero and prints it as 0
    ],
    ids=["0ngonka", "no coins", "two zero coins", "zero in octal"],
)
def test_zero_fee_is_accepted_and_nothing_deducted(node, fee, shown):
    """x/auth/ante/fee.go DeductFeeDecorator.checkDeductFee: `if !fee.IsZero() { DeductFees(...) }`; nothing in
    Tx.ValidateBasic refuses a zero amount (it checks IsAnyNil and IsAnyNegative only)."""
    collector = node.state.store.module_address("fee_collector")
    before = (balance(node, VAL.address), balance(node, USER.address), balance(node, collector))
    raw = signed_tx([send(VAL, USER.address, "5")], [signer(node, VAL)], fee=fee)
    assert node.txp.simulate(raw, node.height)[0].code == 0
    result = deliver(node, raw)
    assert (result.code, result.log) == (0, "")
    after = (balance(node, VAL.address), balance(node, USER.address), balance(node, collector))
    assert after == (before[0] - 5, before[1] + 5, before[2])  # exactly the amount sent; the collector got nothing
    assert fee_event(result) == {"fee": shown, "fee_payer": VAL.address}
    spent = [(a["spender"], a["amount"]) for a in (dict(e.attributes) for e in result.events if e.type == "coin_spent")]
    assert spent == [(VAL.address, "5ngonka")]  # the send only: no transfer of a zero fee


def test_zero_coins_are_a_zero_fee_whatever_their_denoms(node):
    """DeductFeeDecorator.checkDeductFee: Coins.IsZero looks at amounts only, so zero coins are never validated
    (IsValid is DeductFees' check): an invalid or repeated denom with a zero amount is accepted."""
    raw = signed_tx([send(VAL, USER.address)], [signer(node, VAL)], fee=[("X", "0"), ("ngonka", "0"), ("ngonka", "0")])
    assert deliver(node, raw).code == 0


@pytest.mark.parametrize(
    ("fee", "log"),
    [
        ([("ngonka", "5"), ("stake", "0")], "invalid fee amount: 5ngonka,0stake: insufficient fee"),
        ([("stake", "1"), ("ngonka", "1")], "invalid fee amount: 1stake,1ngonka: insufficient fee"),
        ([("X", "1")], "invalid fee amount: 1X: insufficient fee"),
    ],
    ids=["zero next to a positive coin", "unsorted", "bad denom"],
)
def test_non_zero_fee_must_be_valid_coins(node, fee, log):
    """x/auth/ante/fee.go DeductFees: `if !fees.IsValid()` -> sdk 13 "invalid fee amount" (at CheckTx)."""
    res = node.admit(signed_tx([send(VAL, USER.address)], [signer(node, VAL)], fee=fee))[1]
    assert (res.codespace, res.code, res.log) == ("sdk", 13, log)
    assert node.mempool == []


@pytest.mark.parametrize(
    ("amount", "log"),
    [("-5", "invalid fee provided: -5ngonka: insufficient fee"), ("", "invalid fee provided: null: insufficient fee")],
    ids=["negative", "nil (empty amount)"],
)
def test_negative_or_nil_fee_is_refused_by_validate_basic(node, amount, log):
    """types/tx/types.go Tx.ValidateBasic: fee.Amount.IsAnyNil, then IsAnyNegative -> sdk 13 (CheckTx, Simulate)."""
    raw = signed_tx([send(VAL, USER.address)], [signer(node, VAL)], fee=[("ngonka", amount)])
    for res in (node.admit(raw)[1], node.txp.simulate(raw, node.height)[0]):
        assert (res.codespace, res.code, res.log) == ("sdk", 13, log)


def test_positive_fee_goes_to_the_fee_collector(node):
    """x/auth/ante/fee.go DeductFees: SendCoinsFromAccountToModule(payer -> fee_collector)."""
    collector = node.state.store.module_address("fee_collector")
    before = balance(node, VAL.address), balance(node, collector)
    result = deliver(node, signed_tx([send(VAL, USER.address, "5")], [signer(node, VAL)], fee=[("ngonka", "100")]))
    assert result.code == 0
    assert (balance(node, VAL.address), balance(node, collector)) == (before[0] - 105, before[1] + 100)
    assert fee_event(result) == {"fee": "100ngonka", "fee_payer": VAL.address}


def test_fee_beyond_the_payers_balance(node):
    """x/auth/ante/fee.go DeductFees: a failed send is sdk 5, its text wrapped once more."""
    have = balance(node, USER.address)
    raw = signed_tx([send(USER, VAL.address)], [signer(node, USER)], fee=[("ngonka", str(have + 1))])
    res = node.admit(raw)[1]
    assert (res.code, res.log) == (
        5,
        f"spendable balance {have}ngonka is smaller than {have + 1}ngonka: insufficient funds: insufficient funds",
    )


def test_fee_payer_without_an_account(node):
    """DeductFeeDecorator.checkDeductFee: the payer's account must exist, even for a zero fee (sdk 9)."""
    res = node.admit(signed_tx([send(NEWCOMER, USER.address)], [(NEWCOMER, 0, 0)], fee=[("ngonka", "0")]))[1]
    assert (res.code, res.log) == (9, f"fee payer address: {NEWCOMER.address} does not exist: unknown address")


def test_fee_payer_is_a_signer_and_pays(node):
    """types/tx/types.go Tx.GetSigners appends the fee payer to the signers; checkDeductFee takes the fee from it."""
    msg = send(VAL, USER.address, "5")
    unsigned = node.admit(signed_tx([msg], [signer(node, VAL)], fee=[("ngonka", "100")], payer=USER.address))[1]
    assert (unsigned.code, unsigned.log) == (4, "wrong number of signers; expected 2, got 1: unauthorized")
    val, user = balance(node, VAL.address), balance(node, USER.address)
    raw = signed_tx([msg], [signer(node, VAL), signer(node, USER)], fee=[("ngonka", "100")], payer=USER.address)
    seqs = [signer(node, k)[2] for k in (VAL, USER)]
    result = deliver(node, raw)
    assert result.code == 0, result.log
    assert (balance(node, VAL.address), balance(node, USER.address)) == (val - 5, user + 5 - 100)
    assert fee_event(result) == {"fee": "100ngonka", "fee_payer": USER.address}
    assert [signer(node, k)[2] for k in (VAL, USER)] == [s + 1 for s in seqs]  # both signed, both advanced


def test_fee_payer_that_is_not_an_address(node):
    """types/tx/types.go Tx.ValidateBasic: sdk.AccAddressFromBech32(fee.Payer) -> sdk 7."""
    res = node.admit(signed_tx([send(VAL, USER.address)], [signer(node, VAL)], payer="gonka1xyz"))[1]
    why = "decoding bech32 failed: invalid separator index 5"
    assert (res.code, res.log) == (7, f"Invalid fee payer address ({why}): invalid address")


def test_fee_granter_without_a_grant(node):
    """DeductFeeDecorator.checkDeductFee -> feegrant Keeper.UseGrantedFees: no grant is sdk 38 (Gonka enables
    the feegrant module; simnet has no grants)."""
    res = node.admit(signed_tx([send(VAL, USER.address)], [signer(node, VAL)], fee=[("ngonka", "0")], granter=USER.address))[1]
    assert (res.codespace, res.code) == ("sdk", 38)
    assert res.log == f"{USER.address} does not allow to pay fees for {VAL.address}: fee-grant not found: not found"


def test_fee_granter_that_is_the_payer_pays_itself(node):
    """DeductFeeDecorator.checkDeductFee: a granter equal to the payer needs no grant."""
    before = balance(node, VAL.address)
    raw = signed_tx([send(VAL, USER.address, "5")], [signer(node, VAL)], fee=[("ngonka", "10")], granter=VAL.address)
    assert deliver(node, raw).code == 0
    assert balance(node, VAL.address) == before - 15


def test_fee_granter_that_is_not_an_address_panics(node):
    """x/auth/tx FeeGranter(): the address codec's error is a panic, which baseapp recovers (undefined 111222)."""
    res = node.admit(signed_tx([send(VAL, USER.address)], [signer(node, VAL)], granter="cosmos1xyz"))[1]
    assert (res.codespace, res.code) == ("undefined", 111222)
    assert res.log == "recovered: decoding bech32 failed: invalid separator index 6: panic"
