"""Cosmos transactions: build, sign (SIGN_MODE_DIRECT, secp256k1), decode, hash.

The bytes produced here are real `cosmos.tx.v1beta1.TxRaw` and are accepted by a real Cosmos SDK chain
(and by simnet, which checks them the same way).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import cosmpy.protos  # noqa: F401  (puts cosmpy's `cosmos.*` modules on sys.path; must come first)
from cosmos.base.v1beta1 import coin_pb2
from cosmos.crypto.secp256k1 import keys_pb2
from cosmos.tx.signing.v1beta1 import signing_pb2
from cosmos.tx.v1beta1 import tx_pb2
from cosmpy.crypto.keypairs import PublicKey
from google.protobuf.any_pb2 import Any
from google.protobuf.message import DecodeError, Message

from harness.chain.keys import DENOM, Key
from harness.errors import ConfigError

TYPE_SECP256K1_PUBKEY = "/cosmos.crypto.secp256k1.PubKey"
SIGN_MODE_DIRECT = signing_pb2.SIGN_MODE_DIRECT


@dataclass
class DecodedTx:
    """A TxRaw split into its parts; `messages` are the body's Any-wrapped messages."""

    body: tx_pb2.TxBody
    auth_info: tx_pb2.AuthInfo
    signatures: list[bytes]
    messages: list[Any] = field(default_factory=list)
    body_bytes: bytes = b""
    auth_info_bytes: bytes = b""


def pack_any(msg: Message, type_url: str | None = None) -> Any:
    """Wrap a protobuf message in `google.protobuf.Any` (type URL defaults to "/" + full message name)."""
    if isinstance(msg, Any):
        return msg
    if not isinstance(msg, Message):
        raise ConfigError(f"pack_any: expected a protobuf message, got {type(msg).__name__}")
    url = type_url if type_url is not None else "/" + msg.DESCRIPTOR.full_name
    return Any(type_url=url, value=msg.SerializeToString(deterministic=True))


def sign_doc_bytes(body_bytes: bytes, auth_info_bytes: bytes, chain_id: str, account_number: int) -> bytes:
    """The SIGN_MODE_DIRECT sign bytes: a serialized `SignDoc`."""
    doc = tx_pb2.SignDoc(
        body_bytes=body_bytes,
        auth_info_bytes=auth_info_bytes,
        chain_id=chain_id,
        account_number=account_number,
    )
    return doc.SerializeToString(deterministic=True)


def build_signed_tx(
    messages: list,
    key: Key,
    *,
    chain_id: str,
    account_number: int,
    sequence: int,
    gas_limit: int = 2_000_000,
    fee_amount: int = 0,
    memo: str = "",
    timeout_height: int = 0,
) -> bytes:
    """Build a one-signer tx over `messages` (protobuf messages or Anys) and return its TxRaw bytes."""
    if not messages:
        raise ConfigError("build_signed_tx: no messages; a transaction needs at least one message")
    if not isinstance(chain_id, str) or not chain_id:
        raise ConfigError(f"build_signed_tx: chain_id must be a non-empty string, got {chain_id!r}")
    for name, value in (("account_number", account_number), ("sequence", sequence), ("fee_amount", fee_amount)):
        if not isinstance(value, int) or value < 0:
            raise ConfigError(f"build_signed_tx: {name} must be an integer >= 0, got {value!r}")
    if not isinstance(gas_limit, int) or gas_limit <= 0:
        raise ConfigError(f"build_signed_tx: gas_limit must be a positive integer, got {gas_limit!r}")
    if not isinstance(timeout_height, int) or timeout_height < 0:
        raise ConfigError(f"build_signed_tx: timeout_height must be an integer >= 0, got {timeout_height!r}")

    body = tx_pb2.TxBody(messages=[pack_any(m) for m in messages], memo=memo, timeout_height=timeout_height)
    pubkey = pack_any(keys_pb2.PubKey(key=key.public_key_bytes), TYPE_SECP256K1_PUBKEY)
    signer = tx_pb2.SignerInfo(
        public_key=pubkey,
        mode_info=tx_pb2.ModeInfo(single=tx_pb2.ModeInfo.Single(mode=SIGN_MODE_DIRECT)),
        sequence=sequence,
    )
    # fee_amount 0 sends no fee coins; a Gonka chain accepts that as it accepts a zero coin (`0ngonka`).
    amount = [coin_pb2.Coin(denom=DENOM, amount=str(fee_amount))] if fee_amount else []
    auth_info = tx_pb2.AuthInfo(signer_infos=[signer], fee=tx_pb2.Fee(amount=amount, gas_limit=gas_limit))

    body_bytes = body.SerializeToString(deterministic=True)
    auth_info_bytes = auth_info.SerializeToString(deterministic=True)
    signature = key.sign(sign_doc_bytes(body_bytes, auth_info_bytes, chain_id, account_number))
    raw = tx_pb2.TxRaw(body_bytes=body_bytes, auth_info_bytes=auth_info_bytes, signatures=[signature])
    return raw.SerializeToString(deterministic=True)


def decode_tx(raw: bytes) -> DecodedTx:
    """Parse TxRaw bytes; ConfigError (naming the part) if they are not a well-formed transaction."""
    if not isinstance(raw, bytes | bytearray) or not raw:
        raise ConfigError(f"decode_tx: expected non-empty TxRaw bytes, got {type(raw).__name__} of length {len(raw or b'')}")
    try:
        txraw = tx_pb2.TxRaw.FromString(bytes(raw))
    except DecodeError as e:
        raise ConfigError(f"decode_tx: bytes are not a TxRaw protobuf: {e}") from None
    try:
        body = tx_pb2.TxBody.FromString(txraw.body_bytes)
    except DecodeError as e:
        raise ConfigError(f"decode_tx: body_bytes are not a TxBody: {e}") from None
    try:
        auth_info = tx_pb2.AuthInfo.FromString(txraw.auth_info_bytes)
    except DecodeError as e:
        raise ConfigError(f"decode_tx: auth_info_bytes are not an AuthInfo: {e}") from None
    return DecodedTx(
        body=body,
        auth_info=auth_info,
        signatures=list(txraw.signatures),
        messages=list(body.messages),
        body_bytes=txraw.body_bytes,
        auth_info_bytes=txraw.auth_info_bytes,
    )


def signer_pubkey(decoded: DecodedTx, index: int = 0) -> bytes:
    """The compressed secp256k1 public key of signer `index` (ConfigError if absent or another key type)."""
    infos = decoded.auth_info.signer_infos
    if index >= len(infos):
        raise ConfigError(f"tx has {len(infos)} signer infos, no signer #{index}")
    pk = infos[index].public_key
    if pk.type_url != TYPE_SECP256K1_PUBKEY:
        raise ConfigError(f"signer #{index} public key type is {pk.type_url!r}, expected {TYPE_SECP256K1_PUBKEY}")
    return keys_pb2.PubKey.FromString(pk.value).key


def verify_signature(decoded: DecodedTx, *, chain_id: str, account_number: int, index: int = 0) -> bool:
    """True when signature `index` is a valid SIGN_MODE_DIRECT signature for this chain id and account number."""
    if index >= len(decoded.signatures):
        return False
    try:
        pub = PublicKey(signer_pubkey(decoded, index))
    except Exception:
        return False
    doc = sign_doc_bytes(decoded.body_bytes, decoded.auth_info_bytes, chain_id, account_number)
    return bool(pub.verify(doc, decoded.signatures[index]))


def tx_hash(raw: bytes) -> str:
    """The CometBFT transaction hash: upper-case hex of sha256(tx bytes)."""
    return hashlib.sha256(bytes(raw)).hexdigest().upper()
