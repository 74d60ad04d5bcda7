"""The messages simnet routes and the checks every message gets before it runs: decoding (type URL, signer public
key types), ValidateBasic, signers, addresses. The message servers are in `msgs.py` (bank, inference, the router)
and `msgs_gov.py` (gov v1); both build on this module.

A message type simnet does not know makes the tx undecodable (sdk 2 "unable to resolve type URL"), as an
unregistered type URL does in the SDK's decoder; so does a signer public key of a type the SDK does not register.
"""

from __future__ import annotations

from dataclasses import dataclass

import cosmpy.protos  # noqa: F401  (cosmos.* on sys.path)
from cosmos.bank.v1beta1 import tx_pb2 as bank_tx_pb2
from cosmos.crypto.secp256k1 import keys_pb2
from google.protobuf.any_pb2 import Any
from google.protobuf.message import DecodeError, Message

from harness.model.simnet.bank import parse_coins
from harness.model.simnet.errors import AbciError
from harness.model.simnet.gotext import GoError, acc_address, codec_address, go_trim_space
from harness.proto import (
    TYPE_MSG_CREATE_PARTIAL_UPGRADE,
    TYPE_MSG_DEPOSIT,
    TYPE_MSG_SUBMIT_PROPOSAL,
    TYPE_MSG_VOTE,
    TYPE_SECP256K1_PUBKEY,
    MsgCreatePartialUpgrade,
    gov_tx_pb2,
)
from harness.versions import VERSION_RE

TYPE_MSG_SEND = "/cosmos.bank.v1beta1.MsgSend"
TYPE_MSG_VOTE_WEIGHTED = "/cosmos.gov.v1.MsgVoteWeighted"
BECH32_PREFIX = "gonka"
# Gonka's blocked module accounts (app_config.go blockAccAddrs): bank refuses to send to them, whether or not
# the account exists yet; the gov account is deliberately not blocked
BLOCKED_MODULES = ("fee_collector", "distribution", "mint", "bonded_tokens_pool", "not_bonded_tokens_pool", "nft")
PUBKEY_TYPES = (
    TYPE_SECP256K1_PUBKEY,
    "/cosmos.crypto.ed25519.PubKey",
    "/cosmos.crypto.secp256r1.PubKey",
    "/cosmos.crypto.multisig.LegacyAminoPubKey",
)


@dataclass(frozen=True)
class Route:
    cls: type[Message]
    module: str
    signer_field: str
    gas: int  # execution gas (store reads and writes of the handler)


ROUTES: dict[str, Route] = {
    TYPE_MSG_SEND: Route(bank_tx_pb2.MsgSend, "bank", "from_address", 30_000),
    TYPE_MSG_SUBMIT_PROPOSAL: Route(gov_tx_pb2.MsgSubmitProposal, "gov", "proposer", 40_000),
    TYPE_MSG_DEPOSIT: Route(gov_tx_pb2.MsgDeposit, "gov", "depositor", 30_000),
    TYPE_MSG_VOTE: Route(gov_tx_pb2.MsgVote, "gov", "voter", 20_000),
    TYPE_MSG_VOTE_WEIGHTED: Route(gov_tx_pb2.MsgVoteWeighted, "gov", "voter", 22_000),
    TYPE_MSG_CREATE_PARTIAL_UPGRADE: Route(MsgCreatePartialUpgrade, "inference", "authority", 12_000),
}
_COIN_FIELDS = {TYPE_MSG_SEND: "amount", TYPE_MSG_SUBMIT_PROPOSAL: "initial_deposit", TYPE_MSG_DEPOSIT: "amount"}


def decode_msg(any_msg: Any, *, depth: int = 0) -> Message:
    """The message behind an Any, as the SDK's decoder resolves it (nested proposal messages too); sdk 2 otherwise."""
    route = ROUTES.get(any_msg.type_url)
    if route is None:
        raise AbciError("sdk", 2, f"unable to resolve type URL {any_msg.type_url[:200]}")
    try:
        msg = route.cls.FromString(any_msg.value)
    except DecodeError as e:
        raise AbciError("sdk", 2, f"{any_msg.type_url}: {e}") from None
    if any_msg.type_url in _COIN_FIELDS:
        parse_coins(getattr(msg, _COIN_FIELDS[any_msg.type_url]))
    if any_msg.type_url == TYPE_MSG_SUBMIT_PROPOSAL:
        if depth > 4:
            raise AbciError("sdk", 2, "proposal messages nested too deep")
        for inner in msg.messages:  # type: ignore[attr-defined]
            decode_msg(inner, depth=depth + 1)
    return msg


def check_pubkey_types(signer_infos: object) -> None:
    """The decoder's view of each signer info's public key: a type the SDK registers as a public key, and for
    secp256k1 a key that decodes; sdk 2 otherwise (simnet knows message types as the other registered types)."""
    for info in signer_infos:  # type: ignore[attr-defined]
        url = info.public_key.type_url if info.HasField("public_key") else ""
        if not url or url in PUBKEY_TYPES[1:]:
            continue
        if url in ROUTES:
            raise AbciError("sdk", 2, f"no concrete type registered for type URL {url} against interface *types.PubKey")
        if url != TYPE_SECP256K1_PUBKEY:
            raise AbciError("sdk", 2, f"unable to resolve type URL {url[:200]}")
        try:
            keys_pb2.PubKey.FromString(info.public_key.value)
        except DecodeError as e:
            raise AbciError("sdk", 2, f"{url}: {e}") from None


def signer_of(url: str, msg: Message) -> str:
    return getattr(msg, ROUTES[url].signer_field)


def validate_basic(url: str, msg: Message, *, strict_versions: bool) -> None:
    """ValidateBasic of the messages that have one (the inference module's MsgCreatePartialUpgrade, as on gonka
    main); AbciError sdk 7/18. `strict_versions` adds simnet's own nodeVersion check."""
    if url != TYPE_MSG_CREATE_PARTIAL_UPGRADE:
        return
    assert isinstance(msg, MsgCreatePartialUpgrade)
    try:
        acc_address(msg.authority, BECH32_PREFIX)
    except GoError as e:
        raise AbciError("sdk", 7, f"invalid creator address ({e})") from None
    if msg.height == 0:
        raise AbciError("sdk", 18, "height must be > 0")
    if not go_trim_space(msg.nodeVersion) and not go_trim_space(msg.apiBinariesJson):
        raise AbciError("sdk", 18, "either apiBinariesJson or nodeVersion must be set")
    if strict_versions and msg.nodeVersion and not VERSION_RE.match(msg.nodeVersion):
        shown = msg.nodeVersion[:80]
        raise AbciError("sdk", 18, f"nodeVersion {shown!r} is not vMAJOR.MINOR.PATCH (such as v0.3.9)")


def check_address(addr: str, what: str) -> bytes:
    """An address field as a message server reads it (the address codec); sdk 7 'invalid <what> address: ...'."""
    try:
        return codec_address(addr, BECH32_PREFIX)
    except GoError as e:
        raise AbciError("sdk", 7, f"invalid {what} address: {e}") from None
