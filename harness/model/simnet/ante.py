"""The SDK's ante handler on simnet, in cosmos-sdk v0.53's decorator order: gas meter, ValidateBasic (fee, signer
count), timeout height and timestamp, memo, tx size gas, fee deduction (to fee_collector), public keys, signature
count and gas, SIGN_MODE_DIRECT secp256k1 verification over the SignDoc (chain id, account number), sequences
(or, for unordered transactions, the timeout-timestamp nonce), sequence increment.

Simulate runs the same checks without verifying signatures and with an unlimited gas meter.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import cosmpy.protos  # noqa: F401  (cosmos.* on sys.path)
from cosmos.crypto.secp256k1 import keys_pb2
from cosmos.tx.signing.v1beta1 import signing_pb2
from cosmpy.crypto.keypairs import PublicKey
from google.protobuf.message import DecodeError, Message

from harness.chain.keys import address_from_pubkey
from harness.chain.tx import DecodedTx, sign_doc_bytes
from harness.model.simnet.bank import Coins, coins_problem, coins_str
from harness.model.simnet.errors import AbciError
from harness.model.simnet.msgs import check_address
from harness.model.simnet.state import ChainState
from harness.model.simnet.store import Event
from harness.proto import TYPE_SECP256K1_PUBKEY

SECP256K1_HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0
MAX_MEMO_CHARS = 256
TX_SIG_LIMIT = 7
TX_SIZE_COST_PER_BYTE = 10
SIG_VERIFY_COST_SECP256K1 = 1000
ANTE_READS_GAS = 10_000  # account and params reads of the ante decorators
UNORDERED_TX_GAS = 2240
MAX_UNORDERED_TTL_NS = 10 * 60 * 10**9
MAX_GAS_WANTED = 2**63 - 1

CHECK, DELIVER, SIMULATE = "check", "deliver", "simulate"


class GasMeter:
    """Counts gas; past the limit it raises sdk 11 out of gas, as the SDK's meter panics and baseapp recovers."""

    def __init__(self, limit: int | None) -> None:
        self.limit, self.used = limit, 0

    def consume(self, amount: int, where: str) -> None:
        self.used += amount
        if self.limit is not None and self.used > self.limit:
            raise AbciError("sdk", 11, f"out of gas in location: {where}; gasWanted: {self.limit}, gasUsed: {self.used}")


@dataclass
class AnteResult:
    signers: list[str]
    fee: Coins
    events: list[Event]


@dataclass
class TxContext:
    """One transaction as the ante handler and the message router see it."""

    raw: bytes
    decoded: DecodedTx
    msgs: list[tuple[str, Message]]  # (type URL, decoded message)
    signers: list[str]  # distinct signers of the messages, in order
    fee: Coins
    mode: str
    height: int
    time_ns: int
    gas: GasMeter


def run_ante(state: ChainState, tx: TxContext, sequences: dict[str, int] | None = None) -> AnteResult:
    """Every check and effect of the SDK's default ante chain; AbciError with the SDK's code on refusal.
    `sequences` overlays account sequences (CheckTx's check state); the store is changed in place."""
    d, gas = tx.decoded, tx.gas
    _validate_basic(tx)
    _timeouts(tx)
    if len(d.body.memo) > MAX_MEMO_CHARS:
        raise AbciError("sdk", 12, f"maximum number of characters is {MAX_MEMO_CHARS} but received {len(d.body.memo)} characters")
    gas.consume(ANTE_READS_GAS, "ante")
    sim_extra = sum(64 - len(s) for s in d.signatures if len(s) < 64) if tx.mode == SIMULATE else 0
    gas.consume(TX_SIZE_COST_PER_BYTE * (len(tx.raw) + sim_extra), "txSize")
    events = _deduct_fee(state, tx)
    pubs = _public_keys(state, tx)
    if len(pubs) > TX_SIG_LIMIT:
        raise AbciError("sdk", 14, f"signatures: {len(pubs)}, limit: {TX_SIG_LIMIT}")
    for _ in pubs:
        gas.consume(SIG_VERIFY_COST_SECP256K1, "ante verify: secp256k1")
    unordered = d.body.unordered
    if unordered:
        _unordered_nonce(state, tx)
    infos = d.auth_info.signer_infos
    chain_id = state.genesis.chain_id
    for addr, info, sig, pub in zip(tx.signers, infos, d.signatures, pubs, strict=True):
        acc = state.store.accounts[addr]
        expected = acc.sequence if sequences is None else sequences.get(addr, acc.sequence)
        if unordered and info.sequence > 0:
            raise AbciError("sdk", 18, "sequence is not allowed for unordered transactions")
        if not unordered and info.sequence != expected:
            raise AbciError("sdk", 32, f"account sequence mismatch, expected {expected}, got {info.sequence}")
        if tx.mode != SIMULATE:
            if info.mode_info.single.mode != signing_pb2.SIGN_MODE_DIRECT:
                raise AbciError("sdk", 4, f"simnet verifies SIGN_MODE_DIRECT only, got sign mode {info.mode_info.single.mode}")
            if pub is None or not _verify(pub, sign_doc_bytes(d.body_bytes, d.auth_info_bytes, chain_id, acc.number), sig):
                raise AbciError(
                    "sdk",
                    4,
                    f"signature verification failed; please verify account number ({acc.number}), "
                    f"sequence ({expected}) and chain-id ({chain_id})",
                )
        events.append(Event("tx", [("acc_seq", f"{addr}/{expected}")]))
        events.append(Event("tx", [("signature", base64.b64encode(sig).decode())]))
        if not unordered:
            if sequences is None:
                acc.sequence = expected + 1
            else:
                sequences[addr] = expected + 1
    return AnteResult(tx.signers, tx.fee, events)


def _validate_basic(tx: TxContext) -> None:
    d = tx.decoded
    fee = d.auth_info.fee
    if fee.gas_limit > MAX_GAS_WANTED:
        raise AbciError("sdk", 18, f"invalid gas supplied; {fee.gas_limit} > {MAX_GAS_WANTED}")
    if any(amount < 0 for _, amount in tx.fee):
        raise AbciError("sdk", 13, f"invalid fee provided: {coins_str(tx.fee)}")
    if fee.payer:
        check_address(fee.payer, "fee payer")
    if fee.granter:
        raise AbciError("sdk", 18, "fee grants are not enabled")
    if not d.signatures:
        raise AbciError("sdk", 15, "")
    if len(d.signatures) != len(tx.signers):
        raise AbciError("sdk", 4, f"wrong number of signers; expected {len(tx.signers)}, got {len(d.signatures)}")
    if len(d.auth_info.signer_infos) != len(tx.signers):
        raise AbciError("sdk", 4, f"invalid number of signer;  expected: {len(tx.signers)}, got {len(d.auth_info.signer_infos)}")
    if d.body.extension_options:
        raise AbciError("sdk", 31, "")


def _timeouts(tx: TxContext) -> None:
    body = tx.decoded.body
    if body.timeout_height and tx.height > body.timeout_height:
        raise AbciError("sdk", 30, f"block height: {tx.height}, timeout height: {body.timeout_height}")
    if body.HasField("timeout_timestamp"):
        ts = body.timeout_timestamp.ToNanoseconds()
        if ts and tx.time_ns > ts:
            raise AbciError("sdk", 42, f"block time: {tx.time_ns} ns, timeout timestamp: {ts} ns")


def _deduct_fee(state: ChainState, tx: TxContext) -> list[Event]:
    problem = coins_problem(tx.fee)
    if problem:
        raise AbciError("sdk", 13, f"invalid fee amount: {coins_str(tx.fee)}")
    payer = tx.decoded.auth_info.fee.payer or tx.signers[0]
    if payer not in state.store.accounts:
        raise AbciError("sdk", 9, f"fee payer address: {payer} does not exist")
    events: list[Event] = []
    if tx.fee:
        try:
            events = state.bank.send(payer, state.store.module_address("fee_collector") or "", dict(tx.fee))
        except AbciError as e:
            raise AbciError("sdk", 5, e.log) from None
    return [*events, Event("tx", [("fee", coins_str(tx.fee)), ("fee_payer", payer)])]


def _public_keys(state: ChainState, tx: TxContext) -> list[bytes | None]:
    """SetPubKeyDecorator: each signer's key from its signer info (must hash to the signer), kept on the account."""
    out: list[bytes | None] = []
    for i, (addr, info) in enumerate(zip(tx.signers, tx.decoded.auth_info.signer_infos, strict=True)):
        acc = state.store.accounts.get(addr)
        if acc is None:
            raise AbciError("sdk", 9, f"account {addr} does not exist")
        if not info.HasField("public_key"):
            if acc.pub_key is None and tx.mode != SIMULATE:
                raise AbciError("sdk", 8, "pubkey on account is not set")
            out.append(acc.pub_key)
            continue
        if info.public_key.type_url != TYPE_SECP256K1_PUBKEY:
            raise AbciError("sdk", 8, f"unsupported public key type {info.public_key.type_url!r}; simnet accepts secp256k1")
        try:
            pub = keys_pb2.PubKey.FromString(info.public_key.value).key
        except DecodeError as e:
            raise AbciError("sdk", 2, f"signer {i} public key: {e}") from None
        if len(pub) != 33 or address_from_pubkey(pub) != addr:
            raise AbciError("sdk", 8, f"pubKey does not match signer address {addr} with signer index: {i}")
        if tx.mode != SIMULATE:
            acc.pub_key = pub
        out.append(pub)
    return out


def _unordered_nonce(state: ChainState, tx: TxContext) -> None:
    body = tx.decoded.body
    ts = body.timeout_timestamp.ToNanoseconds() if body.HasField("timeout_timestamp") else 0
    if ts <= 0:
        raise AbciError("sdk", 18, "unordered transaction must have timeout_timestamp set")
    if ts < tx.time_ns:
        raise AbciError("sdk", 18, "unordered transaction has a timeout_timestamp that has already passed")
    if ts > tx.time_ns + MAX_UNORDERED_TTL_NS:
        raise AbciError("sdk", 18, "unordered tx ttl exceeds 10m0s")
    tx.gas.consume(UNORDERED_TX_GAS, "unordered tx")
    nonces = state.store.unordered_nonces
    for addr in tx.signers:
        key = f"{addr}/{ts}"
        if key in nonces:
            raise AbciError("sdk", 18, f"failed to add unordered nonce: unordered tx with timeout {ts} ns already used by {addr}")
        if tx.mode != SIMULATE:
            nonces[key] = ts


def _verify(pub: bytes, message: bytes, sig: bytes) -> bool:
    """secp256k1 over sha256(message), 64-byte r||s with low S (the SDK rejects high-S signatures)."""
    if len(sig) != 64 or int.from_bytes(sig[32:], "big") > SECP256K1_HALF_N:
        return False
    try:
        return bool(PublicKey(pub).verify(message, sig))
    except Exception:
        return False
