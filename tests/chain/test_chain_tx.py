"""Transaction building and signing: real TxRaw bytes, SIGN_MODE_DIRECT over secp256k1."""

from __future__ import annotations

import hashlib

import cosmpy.protos  # noqa: F401  (puts `cosmos.*` on sys.path)
import pytest
from cosmos.crypto.secp256k1 import keys_pb2
from cosmos.tx.signing.v1beta1 import signing_pb2
from cosmos.tx.v1beta1 import tx_pb2
from cosmpy.crypto.keypairs import PublicKey
from google.protobuf.any_pb2 import Any

from harness import proto
from harness.chain import (
    DEV_MNEMONIC,
    DEV_USER_MNEMONIC,
    Key,
    address_from_pubkey,
    build_signed_tx,
    decode_tx,
    gov_module_address,
    pack_any,
    sign_doc_bytes,
    tx_hash,
    verify_signature,
)
from harness.errors import ConfigError

CHAIN = "gonka-testnet"


@pytest.fixture(scope="module")
def key() -> Key:
    return Key.from_mnemonic(DEV_MNEMONIC, name="validator")


def upgrade_msg(height: int = 20, version: str = "v0.3.9"):
    return proto.MsgCreatePartialUpgrade(authority=gov_module_address(), height=height, nodeVersion=version)


def test_pack_any_uses_full_name_and_round_trips():
    msg = upgrade_msg()
    any_msg = pack_any(msg)
    assert any_msg.type_url == "/inference.inference.MsgCreatePartialUpgrade" == proto.TYPE_MSG_CREATE_PARTIAL_UPGRADE
    assert proto.MsgCreatePartialUpgrade.FromString(any_msg.value) == msg
    assert pack_any(msg, "/custom.Type").type_url == "/custom.Type"
    assert pack_any(any_msg) is any_msg  # an Any is not wrapped twice


def test_pack_any_rejects_non_messages():
    with pytest.raises(ConfigError, match="expected a protobuf message, got dict"):
        pack_any({"height": 1})


def test_build_decode_round_trip(key):
    vote = proto.gov_tx_pb2.MsgVote(proposal_id=7, voter=key.address, option=proto.gov_pb2.VOTE_OPTION_YES)
    raw = build_signed_tx(
        [upgrade_msg(), vote], key, chain_id=CHAIN, account_number=3, sequence=5, fee_amount=10, memo="hi", timeout_height=99
    )
    d = decode_tx(raw)
    assert [m.type_url for m in d.messages] == [proto.TYPE_MSG_CREATE_PARTIAL_UPGRADE, proto.TYPE_MSG_VOTE]
    assert proto.gov_tx_pb2.MsgVote.FromString(d.messages[1].value).proposal_id == 7
    assert d.body.memo == "hi"
    assert d.body.timeout_height == 99
    (signer,) = d.auth_info.signer_infos
    assert signer.sequence == 5
    assert signer.mode_info.single.mode == signing_pb2.SIGN_MODE_DIRECT
    assert signer.public_key.type_url == "/cosmos.crypto.secp256k1.PubKey"
    pub = keys_pb2.PubKey.FromString(signer.public_key.value).key
    assert pub == key.public_key_bytes
    assert address_from_pubkey(pub) == key.address
    assert [(c.denom, c.amount) for c in d.auth_info.fee.amount] == [("ngonka", "10")]
    assert d.auth_info.fee.gas_limit == 2_000_000
    assert len(d.signatures) == 1
    assert len(d.signatures[0]) == 64


def test_zero_fee_has_no_coins(key):
    d = decode_tx(build_signed_tx([upgrade_msg()], key, chain_id=CHAIN, account_number=0, sequence=0))
    assert list(d.auth_info.fee.amount) == []


def test_signature_verifies_only_for_its_chain_account_and_bytes(key):
    raw = build_signed_tx([upgrade_msg()], key, chain_id=CHAIN, account_number=4, sequence=1)
    d = decode_tx(raw)
    # Independent check with the raw secp256k1 verifier over the SignDoc spelled out field by field.
    doc = tx_pb2.SignDoc(body_bytes=d.body_bytes, auth_info_bytes=d.auth_info_bytes, chain_id=CHAIN, account_number=4)
    assert PublicKey(key.public_key_bytes).verify(doc.SerializeToString(), d.signatures[0])
    assert sign_doc_bytes(d.body_bytes, d.auth_info_bytes, CHAIN, 4) == doc.SerializeToString()
    assert verify_signature(d, chain_id=CHAIN, account_number=4)
    assert not verify_signature(d, chain_id="gonka-mainnet", account_number=4)
    assert not verify_signature(d, chain_id=CHAIN, account_number=5)
    tampered = tx_pb2.TxRaw.FromString(raw)
    body = tx_pb2.TxBody.FromString(tampered.body_bytes)
    body.memo = "changed"
    tampered.body_bytes = body.SerializeToString()
    assert not verify_signature(decode_tx(tampered.SerializeToString()), chain_id=CHAIN, account_number=4)


def test_other_key_signature_does_not_verify(key):
    other = Key.from_mnemonic(DEV_USER_MNEMONIC)
    raw = tx_pb2.TxRaw.FromString(build_signed_tx([upgrade_msg()], key, chain_id=CHAIN, account_number=0, sequence=0))
    forged = build_signed_tx([upgrade_msg()], other, chain_id=CHAIN, account_number=0, sequence=0)
    raw.signatures[0] = decode_tx(forged).signatures[0]
    assert not verify_signature(decode_tx(raw.SerializeToString()), chain_id=CHAIN, account_number=0)


def test_signing_is_deterministic_and_hash_is_upper_sha256(key):
    a = build_signed_tx([upgrade_msg()], key, chain_id=CHAIN, account_number=0, sequence=2)
    b = build_signed_tx([upgrade_msg()], key, chain_id=CHAIN, account_number=0, sequence=2)
    c = build_signed_tx([upgrade_msg()], key, chain_id=CHAIN, account_number=0, sequence=3)
    assert a == b
    assert a != c
    h = tx_hash(a)
    assert h == hashlib.sha256(a).hexdigest().upper()
    assert len(h) == 64
    assert h == h.upper()
    assert tx_hash(c) != h


def test_accepts_prepacked_any(key):
    any_msg = Any(type_url="/some.unknown.Msg", value=b"\x08\x01")
    d = decode_tx(build_signed_tx([any_msg], key, chain_id=CHAIN, account_number=0, sequence=0))
    assert d.messages[0].type_url == "/some.unknown.Msg"
    assert d.messages[0].value == b"\x08\x01"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"messages": []}, "no messages"),
        ({"chain_id": ""}, "chain_id must be a non-empty string"),
        ({"account_number": -1}, "account_number must be an integer >= 0"),
        ({"sequence": "1"}, "sequence must be an integer >= 0"),
        ({"gas_limit": 0}, "gas_limit must be a positive integer"),
        ({"fee_amount": -5}, "fee_amount must be an integer >= 0"),
        ({"timeout_height": -1}, "timeout_height must be an integer >= 0"),
        ({"messages": ["not a message"]}, "expected a protobuf message, got str"),
    ],
)
def test_bad_build_inputs_are_named(key, kwargs, match):
    args = {"messages": [upgrade_msg()], "chain_id": CHAIN, "account_number": 0, "sequence": 0} | kwargs
    messages = args.pop("messages")
    with pytest.raises(ConfigError, match=match):
        build_signed_tx(messages, key, **args)


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (b"", "expected non-empty TxRaw bytes"),
        (b"\xff\xff\xff", "not a TxRaw protobuf"),
        (tx_pb2.TxRaw(body_bytes=b"\x0a\xff").SerializeToString(), "body_bytes are not a TxBody"),
        (tx_pb2.TxRaw(body_bytes=b"", auth_info_bytes=b"\x0a\xff").SerializeToString(), "auth_info_bytes are not an AuthInfo"),
    ],
)
def test_malformed_tx_bytes_are_named(raw, match):
    with pytest.raises(ConfigError, match=match):
        decode_tx(raw)


def test_unsigned_tx_does_not_verify(key):
    raw = tx_pb2.TxRaw.FromString(build_signed_tx([upgrade_msg()], key, chain_id=CHAIN, account_number=0, sequence=0))
    del raw.signatures[:]
    assert not verify_signature(decode_tx(raw.SerializeToString()), chain_id=CHAIN, account_number=0)
