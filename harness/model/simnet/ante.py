"""The SDK's ante handler on simnet, decorator by decorator in the order Gonka's app chains them (x/auth/ante):

1. RejectExtensionOptionsDecorator: any (critical) extension option, sdk 31.
2. ValidateBasicDecorator: the tx's ValidateBasic (gas limit, fee, fee payer, signatures; `fees.validate_fee`),
   then its signers (each message's signer through the address codec, then the fee payer), one signature each.
3. TxTimeoutHeightDecorator: timeout height (sdk 30) and timeout timestamp (sdk 42).
4. ValidateMemoDecorator: memo of at most 256 bytes (sdk 12).
5. ConsumeTxSizeGasDecorator: gas for the tx's size (the gas meter itself is SetUpContextDecorator's).
6. DeductFeeDecorator (`fees.deduct_fee`): a zero fee is accepted and nothing is deducted.
7. SetPubKeyDecorator, ValidateSigCountDecorator, SigGasConsumeDecorator, SigVerificationDecorator (with the
   unordered-tx nonce), IncrementSequenceDecorator: `sigverify.py`.

Simulate runs the same checks without verifying signatures and with an unlimited gas meter.
"""

from __future__ import annotations

from harness.model.simnet.context import (  # noqa: F401  (re-exported: the tx processor imports them from here)
    CHECK,
    DELIVER,
    SIMULATE,
    AnteResult,
    GasMeter,
    TxContext,
    timeout_timestamp_ns,
)
from harness.model.simnet.errors import AbciError, unregistered
from harness.model.simnet.fees import BECH32_PREFIX, deduct_fee, validate_fee
from harness.model.simnet.gotext import GoError, codec_address, go_time
from harness.model.simnet.sigverify import verify_signers
from harness.model.simnet.state import ChainState

MAX_MEMO_CHARS = 256  # the auth param MaxMemoCharacters, compared with the memo's length in bytes
TX_SIZE_COST_PER_BYTE = 10
ANTE_READS_GAS = 10_000  # account and params reads of the ante decorators
MAX_GAS_WANTED = 2**63 - 1
def run_ante(
    state: ChainState, tx: TxContext, sequences: dict[str, int] | None = None, nonces: set[str] | None = None
) -> AnteResult:
    """Every check and effect of Gonka's ante chain; AbciError with the SDK's code on refusal. `sequences` and
    `nonces` overlay account sequences and unordered nonces (CheckTx's check state); the store is changed in place."""
    d = tx.decoded
    if d.body.extension_options:
        raise AbciError("sdk", 31)
    _validate_basic(tx)
    _timeouts(tx)
    memo_bytes = len(d.body.memo.encode("utf-8"))
    if memo_bytes > MAX_MEMO_CHARS:
        raise AbciError("sdk", 12, f"maximum number of characters is {MAX_MEMO_CHARS} but received {memo_bytes} characters")
    tx.gas.consume(ANTE_READS_GAS, "ante")
    sim_extra = sum(64 - len(s) for s in d.signatures if len(s) < 64) if tx.mode == SIMULATE else 0
    tx.gas.consume(TX_SIZE_COST_PER_BYTE * (len(tx.raw) + sim_extra), "txSize")
    events = deduct_fee(state, tx)
    events += verify_signers(state, tx, sequences, nonces)
    return AnteResult(tx.signers, tx.fee, events)


def _validate_basic(tx: TxContext) -> None:
    """ValidateBasicDecorator: Tx.ValidateBasic, then the signers (GetSigners) against the signatures."""
    d = tx.decoded
    if d.auth_info.fee.gas_limit > MAX_GAS_WANTED:
        raise AbciError("sdk", 18, f"invalid gas supplied; {d.auth_info.fee.gas_limit} > {MAX_GAS_WANTED}")
    validate_fee(tx)
    if not d.signatures:
        raise AbciError("sdk", 15)
    tx.signers, tx.fee_payer = tx_signers(tx)
    if len(d.signatures) != len(tx.signers):
        raise AbciError("sdk", 4, f"wrong number of signers; expected {len(tx.signers)}, got {len(d.signatures)}")


def tx_signers(tx: TxContext) -> tuple[list[str], str]:
    """(signers, fee payer) as Tx.GetSigners and FeePayer give them: each message's signer once, in order, then
    the fee payer when it is not among them. A signer the address codec refuses is its error as it is (an
    unregistered Go error is codespace undefined, code 1)."""
    signers: list[str] = []
    seen: set[bytes] = set()
    payer = tx.decoded.auth_info.fee.payer
    for addr in [*tx.message_signers, *([payer] if payer else [])]:
        try:
            raw = codec_address(addr, BECH32_PREFIX)
        except GoError as e:
            raise unregistered(e) from None
        if raw not in seen:
            seen.add(raw)
            signers.append(addr.lower())
    return signers, payer.lower() or signers[0]


def _timeouts(tx: TxContext) -> None:
    """TxTimeoutHeightDecorator: a timeout height below the block's height, a timeout timestamp before its time."""
    body = tx.decoded.body
    if body.timeout_height and tx.height > body.timeout_height:
        raise AbciError("sdk", 30, f"block height: {tx.height}, timeout height: {body.timeout_height}")
    ts = timeout_timestamp_ns(tx)
    if ts is not None and not 0 <= ts < 10**9 and ts < tx.time_ns:
        raise AbciError("sdk", 42, f"block time: {go_time(tx.time_ns)}, timeout timestamp: {go_time(ts)}")
