"""The JSON-RPC methods an API node's chain connection can carry: CometBFT 0.38's RPC routes (rpc/core/routes.go,
the websocket's subscribe/unsubscribe included). A fault that targets any other method would never apply, so
`harness chaos add` refuses it (exit 2) unless `--any-method` says the name is meant (a chain with extra routes)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from harness.errors import ConfigError

COMETBFT_METHODS = (
    "subscribe", "unsubscribe", "unsubscribe_all",
    "health", "status", "net_info", "blockchain", "genesis", "genesis_chunked",
    "block", "block_by_hash", "block_results", "commit", "header", "header_by_hash",
    "check_tx", "tx", "tx_search", "block_search", "validators",
    "dump_consensus_state", "consensus_state", "consensus_params",
    "unconfirmed_txs", "num_unconfirmed_txs",
    "broadcast_tx_commit", "broadcast_tx_sync", "broadcast_tx_async",
    "abci_query", "abci_info", "broadcast_evidence",
)  # fmt: skip


def check_methods(methods: Iterable[str], *, field: str = "--method") -> None:
    """ConfigError naming every method the chain connection never carries, the closest known one, and all of them."""
    unknown = [m for m in methods if m not in COMETBFT_METHODS]
    if not unknown:
        return
    parts = []
    for m in unknown:
        close = difflib.get_close_matches(m.replace("-", "_"), COMETBFT_METHODS, n=1, cutoff=0.6)
        parts.append(f"{m!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    raise ConfigError(
        f"{field} {', '.join(parts)}: the chain connection never carries "
        f"{'this method' if len(unknown) == 1 else 'these methods'}, so the fault would never apply. CometBFT's methods: "
        f"{', '.join(COMETBFT_METHODS)}. Add --any-method to install it anyway (a chain with extra routes)"
    )
