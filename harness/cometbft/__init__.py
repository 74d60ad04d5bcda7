"""CometBFT 0.38 client side: JSON-RPC over HTTP and the websocket block timeline."""

from harness.cometbft.client import (
    DEFAULT_BLOCK_TIME_S,
    AbciResult,
    BroadcastResult,
    RpcClient,
    RpcError,
    RpcTransportError,
)
from harness.cometbft.rfc3339 import parse_rfc3339_ms, parse_rfc3339_ns
from harness.cometbft.timeline import BlockSeen, BlockTimeline

__all__ = [
    "DEFAULT_BLOCK_TIME_S",
    "AbciResult",
    "BlockSeen",
    "BlockTimeline",
    "BroadcastResult",
    "RpcClient",
    "RpcError",
    "RpcTransportError",
    "parse_rfc3339_ms",
    "parse_rfc3339_ns",
]
