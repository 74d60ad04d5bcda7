"""Every refusal of simnet's ante handler (and of the decoding before it) against the SDK function it follows:
the same condition, codespace, code and log, in the SDK's decorator order. Each case's id names that function.
All are refused at CheckTx (nothing enters the mempool) and in Simulate where the SDK checks them there too."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cosmpy.protos  # noqa: F401  (cosmos.* on sys.path)
import pytest
from cosmos.bank.v1beta1 import tx_pb2 as bank_tx
from cosmos.tx.v1beta1 import tx_pb2
from google.protobuf.any_pb2 import Any

from harness.chain.keys import DEV_MNEMONIC, DEV_USER_MNEMONIC, Key, gov_module_address
from harness.chain.tx import sign_doc_bytes
from harness.model.simnet.genesis import DEFAULT_BALANCE_NGONKA
from harness.model.simnet.gotext import go_time
from tests.model.simnet.simnet_support import CHAIN_ID, fresh_node, signed_tx, signer

VAL, USER = Key.from_mnemonic(DEV_MNEMONIC), Key.from_mnemonic(DEV_USER_MNEMONIC)
NEWCOMER = Key.from_mnemonic(DEV_USER_MNEMONIC, index=7)  # no account on the chain
FUNDED_NO_KEY = Key.from_mnemonic(DEV_USER_MNEMONIC, index=8)  # an account with funds and no public key yet
BAD_CHECKSUM = VAL.address[:-1] + ("q" if VAL.address[-1] != "q" else "p")


def send(frm: str, to: str = USER.address, amount: str = "5") -> bank_tx.MsgSend:
    msg = bank_tx.MsgSend(from_address=frm, to_address=to)
    msg.amount.add(denom="ngonka", amount=amount)
    return msg


@pytest.fixture
def node():
    funded = {k.address: DEFAULT_BALANCE_NGONKA for k in (VAL, USER, FUNDED_NO_KEY)}
    return fresh_node(accounts=funded)


@dataclass
class Case:
    build: Callable[..., bytes]  # (node) -> raw tx
    codespace: str
    code: int
    log: str | Callable[..., str] | None  # the exact log, or (node) -> it; None: the decoder's own text, not compared


def _drop_public_key(auth: tx_pb2.AuthInfo) -> None:
    auth.signer_infos[0].ClearField("public_key")


def _pubkey_url(url: str, value: bytes = b"") -> Callable[[tx_pb2.AuthInfo], None]:
    def edit(auth: tx_pb2.AuthInfo) -> None:
        auth.signer_infos[0].public_key.CopyFrom(Any(type_url=url, value=value))

    return edit


def _short_key(auth: tx_pb2.AuthInfo) -> None:
    from cosmos.crypto.secp256k1 import keys_pb2

    auth.signer_infos[0].public_key.value = keys_pb2.PubKey(key=VAL.public_key_bytes[:32]).SerializeToString()


def _extra_signature(node) -> bytes:
    raw = tx_pb2.TxRaw.FromString(signed_tx([send(VAL.address)], [signer(node, VAL)]))
    raw.signatures.append(raw.signatures[0])
    return raw.SerializeToString()


def _no_signatures(node) -> bytes:
    raw = tx_pb2.TxRaw.FromString(signed_tx([send(VAL.address)], [signer(node, VAL)]))
    del raw.signatures[:]
    return raw.SerializeToString()


def _bad_signature(node) -> bytes:
    raw = tx_pb2.TxRaw.FromString(signed_tx([send(VAL.address)], [signer(node, VAL)]))
    sig = bytearray(raw.signatures[0])
    sig[5] ^= 1
    raw.signatures[0] = bytes(sig)
    return raw.SerializeToString()


def _unordered(offset_ns: int | None, sequence: int = 0) -> Callable[..., bytes]:
    def build(node) -> bytes:
        def edit(body: tx_pb2.TxBody) -> None:
            body.unordered = True
            if offset_ns is not None:
                body.timeout_timestamp.FromNanoseconds(node.txp.block_time_ns + offset_ns)

        return signed_tx([send(VAL.address)], [(VAL, signer(node, VAL)[1], sequence)], body_edit=edit)

    return build


def _eight_signers(node) -> bytes:
    keys = [Key.from_mnemonic(DEV_MNEMONIC, index=i) for i in range(1, 9)]
    store = node.state.store
    for k in keys:  # accounts that exist, so that SetPubKeyDecorator lets the count be checked
        store.account(k.address)
    return signed_tx([send(k.address) for k in keys], [(k, store.accounts[k.address].number, 0) for k in keys])


def _sign_mode(node) -> bytes:
    def edit(auth: tx_pb2.AuthInfo) -> None:
        auth.signer_infos[0].mode_info.single.mode = 127  # SIGN_MODE_LEGACY_AMINO_JSON

    return signed_tx([send(VAL.address)], [signer(node, VAL)], auth_edit=edit)


def _signer_infos(count: int) -> Callable[..., bytes]:
    def build(node) -> bytes:
        def edit(auth: tx_pb2.AuthInfo) -> None:
            if count == 0:
                del auth.signer_infos[:]
            else:
                auth.signer_infos.append(auth.signer_infos[0])

        return signed_tx([send(VAL.address)], [signer(node, VAL)], auth_edit=edit)

    return build


def _std(**kw: object) -> Callable[..., bytes]:
    return lambda node: signed_tx([send(VAL.address)], [signer(node, VAL)], **kw)  # type: ignore[arg-type]


CASES = {
    # decoding (x/auth/tx DefaultTxDecoder, codec/unknownproto, codec/types interfaceRegistry)
    "decoder: unregistered public key type (unknownproto RejectUnknownFields)": Case(
        _std(auth_edit=_pubkey_url("/cosmos.crypto.nosuch.PubKey")), "sdk", 2,
        "unable to resolve type URL /cosmos.crypto.nosuch.PubKey: tx parse error"),
    "decoder: a message type as public key (interfaceRegistry.UnpackAny)": Case(
        _std(auth_edit=_pubkey_url("/cosmos.bank.v1beta1.MsgSend")), "sdk", 2,
        "no concrete type registered for type URL /cosmos.bank.v1beta1.MsgSend against interface *types.PubKey: tx parse error"),
    "decoder: secp256k1 key bytes that are not a PubKey message": Case(
        _std(auth_edit=_pubkey_url("/cosmos.crypto.secp256k1.PubKey", b"\xff")), "sdk", 2, None),
    "baseapp validateBasicTxMsgs: no messages": Case(
        lambda node: signed_tx([], [signer(node, VAL)]), "sdk", 18, "must contain at least one message: invalid request"),
    # x/auth/ante/ext.go
    "RejectExtensionOptionsDecorator": Case(
        _std(body_edit=lambda b: b.extension_options.add(type_url="/x.Ext")), "sdk", 31, "unknown extension options"),
    # types/tx/types.go Tx.ValidateBasic and x/auth/tx wrapper.ValidateBasic
    "Tx.ValidateBasic: gas over MaxGasWanted": Case(
        _std(gas=2**63), "sdk", 18, f"invalid gas supplied; {2**63} > {2**63 - 1}: invalid request"),
    "Tx.ValidateBasic: no signatures": Case(_no_signatures, "sdk", 15, "no signatures supplied"),
    "wrapper.ValidateBasic: signer that does not decode (address codec, unregistered error)": Case(
        lambda node: signed_tx([send(BAD_CHECKSUM)], [signer(node, VAL)]), "undefined", 1,
        f"decoding bech32 failed: invalid checksum (expected {VAL.address[-6:]} got {BAD_CHECKSUM[-6:]})"),
    "wrapper.ValidateBasic: signer with another prefix (Bech32Codec.StringToBytes, ErrLogic)": Case(
        lambda node: signed_tx([send("cosmos1qypqxpq9qcrsszg2pvxq6rs0zqg3yyc5lzv7xu")], [signer(node, VAL)]), "sdk", 35,
        "hrp does not match bech32 prefix: expected 'gonka' got 'cosmos': internal logic error"),
    "wrapper.ValidateBasic: more signatures than signers": Case(
        _extra_signature, "sdk", 4, "wrong number of signers; expected 1, got 2: unauthorized"),
    # x/auth/ante/basic.go
    "TxTimeoutHeightDecorator: height": Case(
        _std(body_edit=lambda b: setattr(b, "timeout_height", 1)), "sdk", 30,
        "block height: 2, timeout height: 1: tx timeout height"),
    "TxTimeoutHeightDecorator: timestamp": Case(
        lambda node: signed_tx([send(VAL.address)], [signer(node, VAL)],
                               body_edit=lambda b: b.timeout_timestamp.FromNanoseconds(node.txp.block_time_ns - 1500)),
        "sdk", 42,
        lambda node: f"block time: {go_time(node.txp.block_time_ns)}, timeout timestamp: "
        f"{go_time(node.txp.block_time_ns - 1500)}: tx timeout"),
    "ValidateMemoDecorator: 257 bytes": Case(_std(memo="m" * 257), "sdk", 12,
        "maximum number of characters is 256 but received 257 characters: memo too large"),
    "ValidateMemoDecorator: 129 two-byte characters are 258 bytes": Case(_std(memo="é" * 129), "sdk", 12,
        "maximum number of characters is 256 but received 258 characters: memo too large"),
    "SetUpContextDecorator's gas meter: gas below the ante's cost (location and amounts are simnet's gas model)": Case(
        _std(gas=100), "sdk", 11, "out of gas in location: ante; gasWanted: 100, gasUsed: 10000: out of gas"),
    # x/auth/ante/sigverify.go
    "SetPubKeyDecorator: key of another account": Case(
        lambda node: signed_tx([send(gov_module_address())], [signer(node, VAL)]), "sdk", 8,
        f"pubKey does not match signer address {gov_module_address()} with signer index: 0: invalid pubkey"),
    "SetPubKeyDecorator: key of the wrong length (secp256k1 PubKey.Address panics)": Case(
        _std(auth_edit=_short_key), "undefined", 111222, "recovered: length of pubkey is incorrect: panic"),
    "SetPubKeyDecorator: more signer infos than signers (index out of range)": Case(
        _signer_infos(2), "undefined", 111222, "recovered: runtime error: index out of range [1] with length 1: panic"),
    "SetPubKeyDecorator: signer without an account (GetSignerAcc)": Case(
        lambda node: signed_tx([send(NEWCOMER.address)], [(NEWCOMER, 0, 0), signer(node, VAL)], payer=VAL.address),
        "sdk", 9, f"account {NEWCOMER.address} does not exist: unknown address"),
    "SetPubKeyDecorator: mode info missing (signatureDataToBz)": Case(
        _std(auth_edit=lambda a: a.signer_infos[0].ClearField("mode_info")), "undefined", 1, "got empty SignatureData"),
    "wrapper.GetSignaturesV2 -> ModeInfoAndSigToSignatureData: empty mode info (panics)": Case(
        _std(auth_edit=lambda a: a.signer_infos[0].mode_info.ClearField("single")), "undefined", 111222,
        "recovered: unexpected ModeInfo data type <nil>: panic"),
    "simnet: multisig mode info": Case(
        _std(auth_edit=lambda a: a.signer_infos[0].mode_info.multi.SetInParent()), "sdk", 4,
        "signer 0: simnet does not verify multisig signatures; sign with one secp256k1 key: unauthorized"),
    "wrapper.GetPubKeys: public key Any without a type": Case(
        _std(auth_edit=_pubkey_url("")), "sdk", 35, "Expecting PubKey, got: <nil>: internal logic error"),
    "ValidateSigCountDecorator": Case(
        _eight_signers, "sdk", 14, "signatures: 8, limit: 7: maximum number of signatures exceeded"),
    "SigGasConsumeDecorator: no public key anywhere (DefaultSigVerificationGasConsumer)": Case(
        lambda node: signed_tx([send(FUNDED_NO_KEY.address)], [signer(node, FUNDED_NO_KEY)], auth_edit=_drop_public_key),
        "sdk", 8, "unrecognized public key type: <nil>: invalid pubkey"),
    "SigVerificationDecorator: fewer signer infos than signers": Case(
        _signer_infos(0), "sdk", 4, "invalid number of signer;  expected: 1, got 0: unauthorized"),
    "SigVerificationDecorator: sequence": Case(
        lambda node: signed_tx([send(VAL.address)], [(VAL, signer(node, VAL)[1], signer(node, VAL)[2] + 3)]), "sdk", 32,
        lambda node: f"account sequence mismatch, expected {signer(node, VAL)[2]}, got {signer(node, VAL)[2] + 3}: "
        "incorrect account sequence"),
    "SigVerificationDecorator: signature": Case(
        _bad_signature, "sdk", 4,
        lambda node: f"signature verification failed; please verify account number ({signer(node, VAL)[1]}) and chain-id "
        f"({CHAIN_ID}): (unable to verify single signer signature): unauthorized"),
    "SigVerificationDecorator: chain id": Case(
        _std(chain_id="gonka-mainnet"), "sdk", 4,
        lambda node: f"signature verification failed; please verify account number ({signer(node, VAL)[1]}) and chain-id "
        f"({CHAIN_ID}): (unable to verify single signer signature): unauthorized"),
    "verifyUnorderedNonce: no timeout timestamp": Case(
        _unordered(None), "sdk", 18, "unordered transaction must have timeout_timestamp set: invalid request"),
    "TxTimeoutHeightDecorator before verifyUnorderedNonce: an unordered tx whose timeout has passed": Case(
        _unordered(-1), "sdk", 42,
        lambda node: f"block time: {go_time(node.txp.block_time_ns)}, timeout timestamp: "
        f"{go_time(node.txp.block_time_ns - 1)}: tx timeout"),
    "verifyUnorderedNonce: ttl over 10 minutes": Case(
        _unordered(10 * 60 * 10**9 + 1), "sdk", 18, "unordered tx ttl exceeds 10m0s: invalid request"),
    "SigVerificationDecorator: sequence in an unordered tx": Case(
        _unordered(10**9, sequence=1), "sdk", 18, "sequence is not allowed for unordered transactions: invalid request"),
    "simnet: sign mode other than SIGN_MODE_DIRECT": Case(
        _sign_mode, "sdk", 4, "simnet verifies SIGN_MODE_DIRECT signatures only, got SIGN_MODE_LEGACY_AMINO_JSON; "
        "sign with SIGN_MODE_DIRECT: unauthorized"),
    "simnet: ed25519 public key": Case(
        _std(auth_edit=_pubkey_url("/cosmos.crypto.ed25519.PubKey", b"\x0a\x20" + bytes(32))), "sdk", 8,
        "signer 0: simnet verifies secp256k1 public keys only, got /cosmos.crypto.ed25519.PubKey; sign with a secp256k1 key: "
        "invalid pubkey"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_ante_refusal_as_the_sdk(node, name):
    case = CASES[name]
    raw = case.build(node)
    before = {a: acc.sequence for a, acc in node.state.store.accounts.items()}
    res = node.admit(raw)[1]
    log = case.log(node) if callable(case.log) else case.log
    assert (res.codespace, res.code) == (case.codespace, case.code), res.log
    if log is not None:
        assert res.log == log
    else:  # protobuf's decode error texts are Python's, not Go's
        assert res.log.endswith(": tx parse error"), res.log
    assert node.mempool == []
    assert {a: acc.sequence for a, acc in node.state.store.accounts.items()} == before


def test_malformed_signer_is_refused_before_its_message_runs(node):
    """wrapper.ValidateBasic -> Tx.GetSigners: the signer is decoded by the ante handler (undefined 1), not the
    message server, and an empty signer is the codec's own refusal."""
    res = node.admit(signed_tx([send("")], [signer(node, VAL)]))[1]
    assert (res.codespace, res.code, res.log) == ("undefined", 1, "empty address string is not allowed")


def test_unordered_nonce_is_refused_twice_in_one_check_state(node):
    """verifyUnorderedNonce -> AccountKeeper.TryAddUnorderedNonce: CheckTx records the nonce in the check state, so
    a second tx with the same signer and timeout (different bytes) is refused before any block; Simulate never is."""
    ts = node.txp.block_time_ns + 10**9

    def unordered(memo: str) -> bytes:
        def edit(body: tx_pb2.TxBody) -> None:
            body.unordered = True
            body.timeout_timestamp.FromNanoseconds(ts)

        return signed_tx([send(VAL.address)], [(VAL, signer(node, VAL)[1], 0)], body_edit=edit, memo=memo)

    assert node.admit(unordered("a"))[1].code == 0
    assert node.txp.simulate(unordered("b"), node.height)[0].code == 0
    res = node.admit(unordered("b"))[1]
    assert (res.code, res.log) == (
        18,
        f"failed to add unordered nonce: sender {VAL.address} has already used timeout {ts}: invalid request",
    )


def test_simulate_skips_the_public_key_address_check(node):
    """SetPubKeyDecorator: `if !simulate && !bytes.Equal(pk.Address(), signers[i])` -- Simulate does not compare."""
    raw = signed_tx([send(gov_module_address())], [signer(node, VAL)])
    assert node.admit(raw)[1].code == 8
    sim = node.txp.simulate(raw, node.height)[0]  # passes the ante handler; the gov account then cannot pay
    assert (sim.codespace, sim.code) == ("sdk", 5)
    assert sim.log.startswith("failed to execute message; message index: 0: spendable balance 0ngonka")


def test_signature_is_checked_against_the_sign_doc():
    """SigVerificationDecorator: a signature over another SignDoc (here the right one, so it passes) is verified
    with the account number and chain id; the refusal cases above change one of them."""
    node = fresh_node()
    key, number, seq = signer(node, VAL)
    raw = signed_tx([send(VAL.address)], [(key, number, seq)])
    txraw = tx_pb2.TxRaw.FromString(raw)
    assert key.sign(sign_doc_bytes(txraw.body_bytes, txraw.auth_info_bytes, CHAIN_ID, number)) == txraw.signatures[0]
    assert node.admit(raw)[1].code == 0
