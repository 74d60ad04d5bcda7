"""Transaction fees on simnet, as the SDK's x/auth handles them on a Gonka chain:

- `validate_fee`: the fee half of the tx's ValidateBasic (`types/tx` Tx.ValidateBasic): a nil amount and a
  negative amount are refused (sdk 13 "invalid fee provided: ..."), a fee payer that is not an address too
  (sdk 7 "Invalid fee payer address (...)"). Nothing else about the fee coins is checked there: `0ngonka` is fine.
- `deduct_fee`: `DeductFeeDecorator.checkDeductFee`. The fee is paid by the fee granter when there is one (the
  feegrant module is enabled on Gonka; simnet has no grants, so a granter other than the payer is refused as
  UseGrantedFees refuses a missing grant, sdk 38), else by the fee payer (the tx's `payer`, else its first
  signer), whose account must exist (sdk 9). Only a fee that is not zero (`Coins.IsZero`: no coins, or all
  amounts zero) is validated (`Coins.IsValid`, sdk 13 "invalid fee amount") and sent to `fee_collector`
  (`DeductFees`; sdk 5 when the payer cannot pay). A zero fee moves nothing and touches no balance. The `tx`
  event (`fee`, `fee_payer`) is emitted either way.

The minimum gas price check (`checkTxFeeWithValidatorMinGasPrices`, CheckTx only) is skipped: Gonka's nodes run
with `minimum-gas-prices = 0ngonka`, and zero minimum prices skip it.

Where the SDK formats an address with `%s` of raw bytes (the fee payer of "does not exist", the granter and
payer of the fee-grant refusal), simnet prints the bech32 address: same text otherwise, but readable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.model.simnet.bank import coins_problem, coins_str, is_zero
from harness.model.simnet.errors import AbciError, go_panic
from harness.model.simnet.gotext import GoError, acc_address, codec_address
from harness.model.simnet.store import Event

if TYPE_CHECKING:
    from harness.model.simnet.context import TxContext
    from harness.model.simnet.state import ChainState

BECH32_PREFIX = "gonka"


def validate_fee(tx: TxContext) -> None:
    """Tx.ValidateBasic's fee checks, in its order (the gas limit is checked just before, the signatures after)."""
    if any(amount is None for _, amount in tx.fee):
        raise AbciError("sdk", 13, "invalid fee provided: null")
    if any(amount is not None and amount < 0 for _, amount in tx.fee):
        raise AbciError("sdk", 13, f"invalid fee provided: {coins_str(tx.fee)}")
    payer = tx.decoded.auth_info.fee.payer
    if payer:
        try:
            acc_address(payer, BECH32_PREFIX)
        except GoError as e:
            raise AbciError("sdk", 7, f"Invalid fee payer address ({e})") from None


def deduct_fee(state: ChainState, tx: TxContext) -> list[Event]:
    """DeductFeeDecorator: who pays, whether the fee is zero, and the transfer to fee_collector."""
    payer = tx.fee_payer
    deduct_from = payer
    granter = tx.decoded.auth_info.fee.granter
    if granter:
        try:
            granter_bytes = codec_address(granter, BECH32_PREFIX)  # FeeGranter() panics when it does not decode
        except GoError as e:
            raise go_panic(str(e)) from None
        if granter_bytes != codec_address(payer, BECH32_PREFIX):
            raise AbciError("sdk", 38, f"{granter.lower()} does not allow to pay fees for {payer}: fee-grant not found")
        deduct_from = granter.lower()
    if deduct_from not in state.store.accounts:
        raise AbciError("sdk", 9, f"fee payer address: {deduct_from} does not exist")
    events: list[Event] = []
    if not is_zero(tx.fee):
        if coins_problem(tx.fee) is not None:
            raise AbciError("sdk", 13, f"invalid fee amount: {coins_str(tx.fee)}")
        fees = {denom: amount for denom, amount in tx.fee if amount is not None}
        try:
            events = state.bank.send(deduct_from, state.store.module_address("fee_collector") or "", fees)
        except AbciError as e:
            raise AbciError("sdk", 5, e.log) from None
    return [*events, Event("tx", [("fee", coins_str(tx.fee)), ("fee_payer", deduct_from)])]
