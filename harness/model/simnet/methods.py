"""The CometBFT 0.38 RPC methods simnet serves, with their result shapes (libs/json: int64 as strings, hashes as
upper hex, bytes as base64; ABCI results in jsonpb) and error texts. Consensus-internal methods that need real
consensus rounds (`consensus_state`, `dump_consensus_state`) and `broadcast_evidence` are refused with an error
that says so.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from harness.model.simnet import encoding as enc
from harness.model.simnet.methods_txs import TxMethods, _order, _search_query
from harness.model.simnet.node import MethodError, Node
from harness.model.simnet.search import SearchError, page_bounds

GENESIS_CHUNK_BYTES = 16 * 1024 * 1024


class Methods(TxMethods):
    """Every RPC method; `TxMethods` has the transaction ones."""

    def __init__(self, node: Node) -> None:
        self.node = node

    # -- info --------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        return {}

    def status(self) -> dict[str, Any]:
        n = self.node
        v = n.genesis.validators[0]
        lb, eb = n.latest, n.earliest
        zero = "1970-01-01T00:00:00Z"
        return {
            "node_info": enc.node_info(n.node_id, n.genesis.chain_id, n.genesis.moniker, n.rpc_address),
            "sync_info": {
                "latest_block_hash": lb.block_id["hash"] if lb else "",
                "latest_app_hash": enc.hexu(lb.app_hash) if lb else "",
                "latest_block_height": str(lb.height if lb else 0),
                "latest_block_time": enc.rfc3339(lb.time_ns) if lb else zero,
                "earliest_block_hash": eb.block_id["hash"] if eb else "",
                "earliest_app_hash": enc.hexu(eb.app_hash) if eb else "",
                "earliest_block_height": str(eb.height if eb else 0),
                "earliest_block_time": enc.rfc3339(eb.time_ns) if eb else zero,
                "catching_up": False,
            },
            "validator_info": {"address": enc.validator_address(v), "pub_key": enc.pub_key_json(v), "voting_power": str(v.power)},
        }

    def net_info(self) -> dict[str, Any]:
        return {"listening": True, "listeners": ["Listener(@tcp://127.0.0.1:26656)"], "n_peers": "0", "peers": []}

    def abci_info(self) -> dict[str, Any]:
        n = self.node
        response: dict[str, Any] = {"data": "inference", "version": "simnet"}
        if n.latest:
            response["last_block_height"] = str(n.height)
            response["last_block_app_hash"] = enc.b64(n.latest.app_hash)
        return {"response": response}

    def genesis(self) -> dict[str, Any]:
        return {"genesis": enc.genesis_json(self.node.genesis, self.node.genesis_time_ns)}

    def genesis_chunked(self, chunk: int | None = None) -> dict[str, Any]:
        data = json.dumps(enc.genesis_json(self.node.genesis, self.node.genesis_time_ns), separators=(",", ":")).encode()
        chunks = [data[i : i + GENESIS_CHUNK_BYTES] for i in range(0, len(data), GENESIS_CHUNK_BYTES)]
        c = chunk or 0
        if not 0 <= c < len(chunks):
            raise MethodError(f"there are {len(chunks)} chunks, {c} is invalid")
        return {"chunk": str(c), "total": str(len(chunks)), "data": base64.b64encode(chunks[c]).decode()}

    def consensus_params(self, height: int | None = None) -> dict[str, Any]:
        h = self.node.check_height(height, latest=self.node.height + 1)
        return {"block_height": str(h), "consensus_params": enc.CONSENSUS_PARAMS}

    def consensus_state(self) -> dict[str, Any]:
        raise MethodError("simnet has no consensus rounds: consensus_state is not served (use status, block or commit)")

    def dump_consensus_state(self) -> dict[str, Any]:
        raise MethodError("simnet has no consensus rounds: dump_consensus_state is not served (use status, block or commit)")

    def broadcast_evidence(self, evidence: str = "") -> dict[str, Any]:
        raise MethodError("simnet has a single trusted block producer: broadcast_evidence is not served")

    # -- blocks ------------------------------------------------------------------------------
    def block(self, height: int | None = None) -> dict[str, Any]:
        h = self.node.check_height(height)
        b = self.node.blocks.get(h)
        return {"block_id": b.block_id, "block": b.json} if b else {"block_id": enc.EMPTY_BLOCK_ID, "block": None}

    def block_by_hash(self, hash: bytes = b"") -> dict[str, Any]:
        b = self.node.block_by_hash(hash)
        return {"block_id": b.block_id, "block": b.json} if b else {"block_id": enc.EMPTY_BLOCK_ID, "block": None}

    def header(self, height: int | None = None) -> dict[str, Any]:
        b = self.node.blocks.get(self.node.check_height(height))
        return {"header": b.json["header"] if b else None}

    def header_by_hash(self, hash: bytes = b"") -> dict[str, Any]:
        b = self.node.block_by_hash(hash)
        return {"header": b.json["header"] if b else None}

    def block_results(self, height: int | None = None) -> dict[str, Any]:
        return enc.block_results_json(self.node.block_at(height))

    def commit(self, height: int | None = None) -> dict[str, Any]:
        n = self.node
        b = n.block_at(height)
        nxt = n.blocks.get(b.height + 1)
        commit = nxt.json["last_commit"] if nxt else enc.commit_json(b, n.genesis.validators)
        return {"signed_header": {"header": b.json["header"], "commit": commit}, "canonical": nxt is not None}

    def blockchain(self, minHeight: int | None = None, maxHeight: int | None = None) -> dict[str, Any]:
        n = self.node
        lo, hi = minHeight or 0, maxHeight or 0
        if lo < 0 or hi < 0:
            raise MethodError("heights must be non-negative")
        base = n.earliest.height if n.earliest else 0
        lo = max(lo or 1, base)
        hi = n.height if hi == 0 else min(n.height, hi)
        if lo > hi and n.height:
            raise MethodError(f"min height {lo} can't be greater than max height {hi}")
        lo = max(lo, hi - 20 + 1)
        metas = []
        for h in range(hi, lo - 1, -1):
            b = n.blocks.get(h)
            if b is not None:
                metas.append(
                    {"block_id": b.block_id, "block_size": str(b.size), "header": b.json["header"], "num_txs": str(len(b.txs))}
                )
        return {"last_height": str(n.height), "block_metas": metas}

    def validators(self, height: int | None = None, page: int | None = None, per_page: int | None = None) -> dict[str, Any]:
        n = self.node
        h = n.check_height(height, latest=n.height + 1)
        vals = sorted(n.genesis.validators, key=lambda v: (-v.power, enc.validator_address(v)))
        try:
            skip, count = page_bounds(len(vals), page, per_page)
        except SearchError as e:
            raise MethodError(str(e)) from None
        chunk = vals[skip : skip + count]
        return {
            "block_height": str(h),
            "validators": [
                {
                    "address": enc.validator_address(v),
                    "pub_key": enc.pub_key_json(v),
                    "voting_power": str(v.power),
                    "proposer_priority": "0",
                }
                for v in chunk
            ],
            "count": str(len(chunk)),
            "total": str(len(vals)),
        }

    def block_search(
        self, query: str = "", page: int | None = None, per_page: int | None = None, order_by: str = ""
    ) -> dict[str, Any]:
        n = self.node
        q = _search_query(query)
        desc = _order(order_by, default_desc=True)
        heights = sorted(n.block_index.search(q), reverse=desc)
        try:
            skip, count = page_bounds(len(heights), page, per_page)
        except SearchError as e:
            raise MethodError(str(e)) from None
        blocks = [n.blocks[h] for h in heights[skip : skip + count] if h in n.blocks]
        return {"blocks": [{"block_id": b.block_id, "block": b.json} for b in blocks], "total_count": str(len(heights))}

    # -- abci ----------------------------------------------------------------------------------
    def abci_query(self, path: str = "", data: bytes = b"", height: int | None = None, prove: bool = False) -> dict[str, Any]:
        if height is not None and height < 0:
            raise MethodError(f"height must be non-negative, got {height}")
        r = self.node.router.query(path, data, height or 0)
        response = {
            "code": r.code,
            "log": r.log,
            "info": "",
            "index": "0",
            "key": None,
            "value": enc.b64(r.value),
            "proofOps": None,
            "height": str(r.height),
            "codespace": r.codespace,
        }
        return {"response": response}

    def check_tx(self, tx: bytes = b"") -> dict[str, Any]:
        return enc.result_jsonpb(self.node.txp.check_tx(tx, self.node.height))
