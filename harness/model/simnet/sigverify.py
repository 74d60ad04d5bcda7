"""The signature half of the SDK's ante chain on simnet (x/auth/ante/sigverify.go), in its order:

1. SetPubKeyDecorator: each signer info's public key must hash to its signer (sdk 8, CheckTx and DeliverTx only)
   and is kept on the account; a signer without an account is sdk 9. More signer infos than signers is an
   index-out-of-range panic in the SDK (undefined 111222), fewer is refused below (sdk 4).
2. ValidateSigCountDecorator: at most 7 public keys (sdk 14).
3. SigGasConsumeDecorator: 1000 gas per secp256k1 signature; an account with no public key at all (none on the
   account, none in the tx) is "unrecognized public key type: <nil>" (sdk 8).
4. SigVerificationDecorator: one signer info per signer (sdk 4), the unordered tx's timeout-timestamp nonce
   (sdk 18), the sequence (sdk 32), then the SIGN_MODE_DIRECT signature over the SignDoc (sdk 4).
5. IncrementSequenceDecorator.

What simnet does not model is refused with sdk 4 or 8 and a message saying what to use instead: sign modes
other than SIGN_MODE_DIRECT, multisig mode infos, and public keys other than secp256k1.
"""

from __future__ import annotations

import base64

import cosmpy.protos  # noqa: F401  (cosmos.* on sys.path)
from cosmos.crypto.secp256k1 import keys_pb2
from cosmos.tx.signing.v1beta1 import signing_pb2
from cosmpy.crypto.keypairs import PublicKey

from harness.chain.keys import address_from_pubkey
from harness.chain.tx import sign_doc_bytes
from harness.model.simnet.context import CHECK, SIMULATE, TxContext, timeout_timestamp_ns
from harness.model.simnet.errors import AbciError, go_panic
from harness.model.simnet.state import ChainState
from harness.model.simnet.store import Event
from harness.proto import TYPE_SECP256K1_PUBKEY

SECP256K1_HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0
TX_SIG_LIMIT = 7
SIG_VERIFY_COST_SECP256K1 = 1000
UNORDERED_TX_GAS = 2240
MAX_UNORDERED_TTL_NS = 10 * 60 * 10**9
# public key types the SDK registers besides secp256k1 (simnet does not verify them)
OTHER_PUBKEY_TYPES = (
    "/cosmos.crypto.ed25519.PubKey",
    "/cosmos.crypto.secp256r1.PubKey",
    "/cosmos.crypto.multisig.LegacyAminoPubKey",
)


def verify_signers(
    state: ChainState, tx: TxContext, sequences: dict[str, int] | None, nonces: set[str] | None
) -> list[Event]:
    """Decorators 1-5 above; returns SetPubKeyDecorator's acc_seq and signature events."""
    events = _set_pub_keys(state, tx)
    keys = sum(1 for info in tx.decoded.auth_info.signer_infos if info.HasField("public_key"))
    if keys > TX_SIG_LIMIT:  # the SDK stops counting at the first key over the limit
        raise AbciError("sdk", 14, f"signatures: {TX_SIG_LIMIT + 1}, limit: {TX_SIG_LIMIT}")
    _consume_sig_gas(state, tx)
    new_nonces = _verify_signatures(state, tx, sequences, nonces)
    for key, ts in new_nonces.items():  # kept only now that the whole ante chain has passed, as the SDK's cache
        if tx.mode == CHECK and nonces is not None:
            nonces.add(key)
        else:
            state.store.unordered_nonces[key] = ts
    if not tx.decoded.body.unordered:
        for addr in tx.signers:
            acc = state.store.accounts[addr]
            if sequences is None:
                acc.sequence += 1
            else:
                sequences[addr] = sequences.get(addr, acc.sequence) + 1
    return events


def _info_key(index: int, info: object) -> bytes | None:
    """The compressed secp256k1 key of a signer info (None when it has none); sdk 35/8 for what is not one."""
    if not info.HasField("public_key"):  # type: ignore[attr-defined]
        return None
    url = info.public_key.type_url  # type: ignore[attr-defined]
    if not url:  # an Any without a type unpacks to nothing: GetPubKeys' "Expecting PubKey"
        raise AbciError("sdk", 35, "Expecting PubKey, got: <nil>")
    if url != TYPE_SECP256K1_PUBKEY:
        raise AbciError(
            "sdk", 8, f"signer {index}: simnet verifies secp256k1 public keys only, got {url}; sign with a secp256k1 key"
        )
    return keys_pb2.PubKey.FromString(info.public_key.value).key  # type: ignore[attr-defined]


def _set_pub_keys(state: ChainState, tx: TxContext) -> list[Event]:
    """SetPubKeyDecorator, then the events it emits for every signature."""
    infos, signers, simulate = tx.decoded.auth_info.signer_infos, tx.signers, tx.mode == SIMULATE
    keys = [_info_key(i, info) for i, info in enumerate(infos)]
    for i, pub in enumerate(keys):
        if i >= len(signers):
            raise go_panic(f"runtime error: index out of range [{i}] with length {len(signers)}")
        if pub is None and not simulate:
            continue
        if pub is not None and not simulate:
            if len(pub) != 33:
                raise go_panic("length of pubkey is incorrect")
            if address_from_pubkey(pub) != signers[i]:
                raise AbciError("sdk", 8, f"pubKey does not match signer address {signers[i]} with signer index: {i}")
        acc = state.store.accounts.get(signers[i])
        if acc is None:
            raise AbciError("sdk", 9, f"account {signers[i]} does not exist")
        if acc.pub_key is None and pub is not None:
            acc.pub_key = pub
    events: list[Event] = []
    for i, (info, sig) in enumerate(zip(infos, tx.decoded.signatures, strict=False)):
        if not info.HasField("mode_info"):
            raise AbciError.with_log("undefined", 1, "got empty SignatureData")
        kind = info.mode_info.WhichOneof("sum")
        if kind is None:
            raise go_panic("unexpected ModeInfo data type <nil>")
        if kind == "multi":
            raise AbciError("sdk", 4, f"signer {i}: simnet does not verify multisig signatures; sign with one secp256k1 key")
        if not tx.decoded.body.unordered:
            events.append(Event("tx", [("acc_seq", f"{signers[i]}/{info.sequence}")]))
        events.append(Event("tx", [("signature", base64.b64encode(sig).decode())]))
    return events


def _consume_sig_gas(state: ChainState, tx: TxContext) -> None:
    """SigGasConsumeDecorator (DefaultSigVerificationGasConsumer)."""
    for i, _ in enumerate(tx.decoded.auth_info.signer_infos):
        acc = state.store.accounts.get(tx.signers[i])
        if acc is None:
            raise AbciError("sdk", 9, f"account {tx.signers[i]} does not exist")
        if acc.pub_key is None and tx.mode != SIMULATE:
            raise AbciError("sdk", 8, "unrecognized public key type: <nil>")
        tx.gas.consume(SIG_VERIFY_COST_SECP256K1, "ante verify: secp256k1")


def _verify_signatures(
    state: ChainState, tx: TxContext, sequences: dict[str, int] | None, nonces: set[str] | None
) -> dict[str, int]:
    """SigVerificationDecorator; returns the unordered nonces to record ("<signer>/<timeout ns>" -> timeout ns)."""
    d, signers = tx.decoded, tx.signers
    infos = d.auth_info.signer_infos
    if len(infos) != len(signers):
        raise AbciError("sdk", 4, f"invalid number of signer;  expected: {len(signers)}, got {len(infos)}")
    unordered = d.body.unordered
    new_nonces = _unordered_nonce(state, tx, nonces) if unordered else {}
    chain_id = state.genesis.chain_id
    for addr, info, sig in zip(signers, infos, d.signatures, strict=True):
        if unordered and info.sequence > 0:
            raise AbciError("sdk", 18, "sequence is not allowed for unordered transactions")
        acc = state.store.accounts[addr]
        if acc.pub_key is None and tx.mode != SIMULATE:
            raise AbciError("sdk", 8, "pubkey on account is not set")
        expected = acc.sequence if sequences is None else sequences.get(addr, acc.sequence)
        if not unordered and info.sequence != expected:
            raise AbciError("sdk", 32, f"account sequence mismatch, expected {expected}, got {info.sequence}")
        if tx.mode == SIMULATE:
            continue
        mode = info.mode_info.single.mode
        if mode != signing_pb2.SIGN_MODE_DIRECT:
            name = signing_pb2.SignMode.Name(mode) if mode in signing_pb2.SignMode.values() else str(mode)
            raise AbciError("sdk", 4, f"simnet verifies SIGN_MODE_DIRECT signatures only, got {name}; sign with SIGN_MODE_DIRECT")
        doc = sign_doc_bytes(d.body_bytes, d.auth_info_bytes, chain_id, acc.number)
        if acc.pub_key is None or not _verify(acc.pub_key, doc, sig):
            raise AbciError(
                "sdk",
                4,
                f"signature verification failed; please verify account number ({acc.number}) and chain-id ({chain_id}): "
                "(unable to verify single signer signature)",
            )
    return new_nonces


def _unordered_nonce(state: ChainState, tx: TxContext, nonces: set[str] | None) -> dict[str, int]:
    """SigVerificationDecorator.verifyUnorderedNonce: the nonces this tx adds (none in Simulate), refused when
    the store or, at CheckTx, the check state (`nonces`) has one already."""
    ts = timeout_timestamp_ns(tx)
    if ts is None or 0 <= ts < 10**9:
        raise AbciError("sdk", 18, "unordered transaction must have timeout_timestamp set")
    if ts < tx.time_ns:
        raise AbciError("sdk", 18, "unordered transaction has a timeout_timestamp that has already passed")
    if ts > tx.time_ns + MAX_UNORDERED_TTL_NS:
        raise AbciError("sdk", 18, "unordered tx ttl exceeds 10m0s")
    tx.gas.consume(UNORDERED_TX_GAS, "unordered tx")
    if tx.mode == SIMULATE:
        return {}
    added: dict[str, int] = {}
    for addr in tx.signers:
        key = f"{addr}/{ts}"
        if key in state.store.unordered_nonces or (nonces is not None and key in nonces):
            raise AbciError("sdk", 18, f"failed to add unordered nonce: sender {addr} has already used timeout {ts}")
        added[key] = ts
    return added


def _verify(pub: bytes, message: bytes, sig: bytes) -> bool:
    """secp256k1 over sha256(message), 64-byte r||s with low S (the SDK rejects high-S signatures)."""
    if len(sig) != 64 or int.from_bytes(sig[32:], "big") > SECP256K1_HALF_N:
        return False
    try:
        return bool(PublicKey(pub).verify(message, sig))
    except Exception:
        return False
