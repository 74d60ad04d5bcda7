"""simnet's transaction RPC methods (CometBFT 0.38 shapes): broadcast_tx_sync/async/commit, tx, tx_search,
unconfirmed_txs and num_unconfirmed_txs."""

from __future__ import annotations

import hashlib
from typing import Any

from harness.model.simnet import encoding as enc
from harness.model.simnet.node import MethodError, Node
from harness.model.simnet.query import MAX_QUERY_BYTES, QueryParseError, parse_query
from harness.model.simnet.search import IndexedTx, SearchError, page_bounds
from harness.model.simnet.txs import TxResult

BROADCAST_COMMIT_TIMEOUT_S = 10.0


def _search_query(query: str) -> Any:
    if not query:
        raise MethodError("offset 0: got end of query, wanted a tag such as tm.event")
    if len(query.encode()) > MAX_QUERY_BYTES:
        raise MethodError("maximum query length exceeded")
    try:
        return parse_query(query)
    except QueryParseError as e:
        raise MethodError(str(e)) from None


def _order(order_by: str, default_desc: bool) -> bool:
    """True for descending."""
    if order_by not in ("", "asc", "desc"):
        raise MethodError("expected order_by to be either `asc` or `desc` or empty")
    return order_by == "desc" or (order_by == "" and default_desc)


def broadcast_result(digest: bytes, res: TxResult, *, async_: bool) -> dict[str, Any]:
    """broadcast_tx_sync's result; broadcast_tx_async answers before CheckTx's verdict, so with code 0."""
    if async_:
        return {"code": 0, "data": "", "log": "", "codespace": "", "hash": enc.hexu(digest)}
    return {"code": res.code, "data": enc.hexu(res.data), "log": res.log, "codespace": res.codespace, "hash": enc.hexu(digest)}


def _tx_json(it: IndexedTx, node: Node, prove: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "hash": enc.hexu(it.hash),
        "height": str(it.height),
        "index": it.index,
        "tx_result": enc.result_jsonpb(it.result),  # type: ignore[arg-type]
        "tx": enc.b64(it.raw),
    }
    if prove:
        block = node.blocks.get(it.height)
        leaves = [hashlib.sha256(t).digest() for t in block.txs] if block else [it.hash]
        out["proof"] = {
            "root_hash": enc.hexu(enc.merkle_root(leaves)),
            "data": enc.b64(it.raw),
            "proof": {
                "total": str(len(leaves)),
                "index": str(it.index),
                "leaf_hash": enc.b64(hashlib.sha256(b"\x00" + it.hash).digest()),
            },
        }
        aunts = enc.merkle_aunts(leaves, it.index)
        if aunts:
            out["proof"]["proof"]["aunts"] = [enc.b64(a) for a in aunts]
    return out


class TxMethods:
    node: Node

    def broadcast_tx_sync(self, tx: bytes = b"") -> dict[str, Any]:
        digest, res = self.node.admit(tx)
        return broadcast_result(digest, res, async_=False)

    def broadcast_tx_async(self, tx: bytes = b"") -> dict[str, Any]:
        digest, res = self.node.admit(tx)
        return broadcast_result(digest, res, async_=True)

    async def broadcast_tx_commit(self, tx: bytes = b"") -> dict[str, Any]:
        digest, res = self.node.admit(tx)
        check = enc.result_jsonpb(res)
        if res.code != 0:
            return {"check_tx": check, "tx_result": enc.result_jsonpb(TxResult()), "hash": enc.hexu(digest), "height": "0"}
        it = await self.node.wait_included(digest, BROADCAST_COMMIT_TIMEOUT_S)
        if it is None:
            raise MethodError("timed out waiting for tx to be included in a block")
        return {"check_tx": check, "tx_result": enc.result_jsonpb(it.result), "hash": enc.hexu(digest), "height": str(it.height)}  # type: ignore[arg-type]

    def tx(self, hash: bytes = b"", prove: bool = False) -> dict[str, Any]:
        if not hash:
            raise MethodError("transaction hash cannot be empty")
        it = self.node.tx_index.get(hash)
        if it is None:
            raise MethodError(f"tx ({enc.hexu(hash)}) not found")
        return _tx_json(it, self.node, prove)

    def tx_search(
        self, query: str = "", prove: bool = False, page: int | None = None, per_page: int | None = None, order_by: str = ""
    ) -> dict[str, Any]:
        q = _search_query(query)
        try:
            found = self.node.tx_index.search(q)
        except SearchError as e:
            raise MethodError(str(e)) from None
        desc = _order(order_by, default_desc=False)
        found.sort(key=lambda it: (it.height, it.index), reverse=desc)
        try:
            skip, count = page_bounds(len(found), page, per_page)
        except SearchError as e:
            raise MethodError(str(e)) from None
        return {"txs": [_tx_json(it, self.node, prove) for it in found[skip : skip + count]], "total_count": str(len(found))}

    def unconfirmed_txs(self, limit: int | None = None) -> dict[str, Any]:
        pool = self.node.mempool
        n = 30 if limit is None or limit < 1 else min(limit, 100)
        return {
            "n_txs": str(min(n, len(pool))),
            "total": str(len(pool)),
            "total_bytes": str(sum(len(t) for t in pool)),
            "txs": [enc.b64(t) for t in pool[:n]],
        }

    def num_unconfirmed_txs(self) -> dict[str, Any]:
        pool = self.node.mempool
        return {"n_txs": str(len(pool)), "total": str(len(pool)), "total_bytes": str(sum(len(t) for t in pool)), "txs": None}
