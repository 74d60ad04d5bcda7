"""One transaction as simnet's ante handler and message router see it, and the gas meter it runs under."""

from __future__ import annotations

from dataclasses import dataclass, field

import cosmpy.protos  # noqa: F401  (cosmos.* on sys.path)
from google.protobuf.message import Message

from harness.chain.tx import DecodedTx
from harness.model.simnet.bank import Coins
from harness.model.simnet.errors import OutOfGas
from harness.model.simnet.store import Event

CHECK, DELIVER, SIMULATE = "check", "deliver", "simulate"


class GasMeter:
    """Counts gas; past the limit it raises sdk 11 out of gas, as the SDK's meter panics and baseapp recovers."""

    def __init__(self, limit: int | None) -> None:
        self.limit, self.used = limit, 0

    def consume(self, amount: int, where: str) -> None:
        self.used += amount
        if self.limit is not None and self.used > self.limit:
            raise OutOfGas(f"out of gas in location: {where}; gasWanted: {self.limit}, gasUsed: {self.used}")


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
    message_signers: list[str]  # each message's signer field, in message order
    fee: Coins
    mode: str
    height: int
    time_ns: int
    gas: GasMeter
    signers: list[str] = field(default_factory=list)  # the tx's signers (GetSigners), set by ValidateBasic
    fee_payer: str = ""


GO_ZERO_TIME_NS = -62135596800 * 10**9  # time.Time{}: 0001-01-01 00:00:00 UTC


def timeout_timestamp_ns(tx: TxContext) -> int | None:
    """The body's timeout timestamp in Unix nanoseconds; None when unset or Go's zero time (IsZero)."""
    body = tx.decoded.body
    if not body.HasField("timeout_timestamp"):
        return None
    ts = body.timeout_timestamp.ToNanoseconds()
    return None if ts == GO_ZERO_TIME_NS else ts
