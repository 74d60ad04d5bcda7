"""simnet's node: mempool, block production (DeliverTx, EndBlock, commit), block store, tx index, and the
results of the RPC methods as CometBFT 0.38 shapes. Runs on one asyncio loop; `produce_block` is synchronous.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.model.simnet import encoding as enc
from harness.model.simnet.abci import QueryRouter
from harness.model.simnet.genesis import Genesis
from harness.model.simnet.state import ChainState
from harness.model.simnet.txs import TxProcessor, TxResult

MAX_TX_BYTES = 1_048_576
MEMPOOL_MAX_TXS = 5000
CACHE_SIZE = 10_000
BLOCKS_KEPT = 20_000  # about 67 min at 0.2 s blocks; older heights answer "not available"
TXS_INDEXED = 100_000


class MethodError(Exception):
    """An error a method returns: -32603 Internal error with this text as `data`."""


@dataclass
class IndexedTx:
    height: int
    index: int
    raw: bytes
    result: TxResult


class Node:
    def __init__(self, genesis: Genesis, *, rpc_address: str = "tcp://127.0.0.1:0") -> None:
        self.genesis = genesis
        self.rpc_address = rpc_address
        self.state = ChainState(genesis)
        self.txp = TxProcessor(self.state)
        self.router = QueryRouter(self.state)
        self.blocks: OrderedDict[int, enc.Block] = OrderedDict()
        self.txs: OrderedDict[bytes, IndexedTx] = OrderedDict()
        self.mempool: list[bytes] = []
        self._cache: deque[bytes] = deque()
        self._cache_set: set[bytes] = set()
        self.latest: enc.Block | None = None
        self.earliest: enc.Block | None = None
        self.listeners: list[Callable[[enc.Block], None]] = []
        self.node_id = hashlib.sha256(f"simnet-{genesis.chain_id}".encode()).hexdigest()[:40]

    @property
    def height(self) -> int:
        return self.latest.height if self.latest else 0

    # -- block production ----------------------------------------------------------------
    def produce_block(self, time_ns: int | None = None) -> enc.Block:
        h = self.height + 1
        t = time.time_ns() if time_ns is None else time_ns
        if self.latest is not None and t <= self.latest.time_ns:
            t = self.latest.time_ns + 1_000_000  # block times strictly increase
        txs, self.mempool = self.mempool, []
        results = [self.txp.deliver_tx(raw, h, t) for raw in txs]
        fin_events = self.state.end_block(h, t, self.txp.executor())
        self.state.commit(h)
        self.txp.reset_check_state()
        prev_app = self.latest.app_hash if self.latest else b""
        app_hash = hashlib.sha256(
            prev_app
            + h.to_bytes(8, "big")
            + b"".join(hashlib.sha256(x).digest() for x in txs)
            + self.state.store.mlnode_version.encode()
        ).digest()
        block = enc.build_block(
            chain_id=self.genesis.chain_id,
            height=h,
            time_ns=t,
            txs=txs,
            results=results,
            finalize_events=fin_events,
            app_hash=app_hash,
            prev=self.latest,
            validators=self.genesis.validators,
        )
        self.blocks[h] = block
        for i, (raw, res) in enumerate(zip(txs, results, strict=True)):
            self.txs[hashlib.sha256(raw).digest()] = IndexedTx(h, i, raw, res)
        while len(self.blocks) > BLOCKS_KEPT:
            self.blocks.popitem(last=False)
        while len(self.txs) > TXS_INDEXED:
            self.txs.popitem(last=False)
        self.latest = block
        self.earliest = next(iter(self.blocks.values()))
        for listener in list(self.listeners):
            listener(block)
        return block

    # -- methods -------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        return {}

    def status(self) -> dict[str, Any]:
        v = self.genesis.validators[0]
        lb, eb = self.latest, self.earliest
        zero = "1970-01-01T00:00:00Z"
        return {
            "node_info": {
                "protocol_version": {"p2p": "8", "block": enc.BLOCK_PROTOCOL, "app": "0"},
                "id": self.node_id,
                "listen_addr": "tcp://127.0.0.1:26656",
                "network": self.genesis.chain_id,
                "version": enc.COMETBFT_VERSION,
                "channels": "40202122233038606100",
                "moniker": self.genesis.moniker,
                "other": {"tx_index": "on", "rpc_address": self.rpc_address},
            },
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

    def _height(self, height: int | None, *, latest: int) -> int:
        if height is None:
            return latest
        if height <= 0:
            raise MethodError(f"height must be greater than 0, but got {height}")
        if height > latest:
            raise MethodError(f"height {height} must be less than or equal to the current blockchain height {latest}")
        lowest = self.earliest.height if self.earliest else 1
        if height < lowest:
            raise MethodError(f"height {height} is not available, lowest height is {lowest}")
        return height

    def block(self, height: int | None = None) -> dict[str, Any]:
        h = self._height(height, latest=self.height)
        b = self.blocks.get(h)
        if b is None:
            return {"block_id": enc.EMPTY_BLOCK_ID, "block": None}
        return {"block_id": b.block_id, "block": b.json}

    def validators(self, height: int | None = None, page: int | None = None, per_page: int | None = None) -> dict[str, Any]:
        h = self._height(height, latest=self.height + 1) if height is not None else self.height + 1
        vals = sorted(self.genesis.validators, key=lambda v: (-v.power, enc.validator_address(v)))
        per = 30 if not per_page or per_page < 1 else min(per_page, 100)
        pages = max(1, -(-len(vals) // per))
        pg = page or 1
        if pg < 1 or pg > pages:
            raise MethodError(f"page should be within [1, {pages}] range, given {pg}")
        chunk = vals[(pg - 1) * per : pg * per]
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

    def abci_query(self, path: str = "", data: bytes = b"", height: int | None = None, prove: bool = False) -> dict[str, Any]:
        r = self.router.query(path, data, height or 0)
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

    def broadcast_tx_sync(self, tx: bytes = b"") -> dict[str, Any]:
        digest = hashlib.sha256(tx).digest()
        if len(tx) > MAX_TX_BYTES:
            raise MethodError(f"Tx too large. Max size is {MAX_TX_BYTES}, but got {len(tx)}")
        if digest in self._cache_set:
            raise MethodError("tx already exists in cache")
        if len(self.mempool) >= MEMPOOL_MAX_TXS:
            size = sum(len(t) for t in self.mempool)
            raise MethodError(
                f"mempool is full: number of txs {len(self.mempool)} (max: {MEMPOOL_MAX_TXS}), "
                f"total txs bytes {size} (max: 1073741824)"
            )
        res = self.txp.check_tx(tx, self.height)
        if res.code == 0:
            self.mempool.append(tx)
            self._cache.append(digest)
            self._cache_set.add(digest)
            if len(self._cache) > CACHE_SIZE:
                self._cache_set.discard(self._cache.popleft())
        return {
            "code": res.code,
            "data": enc.hexu(res.data),
            "log": res.log,
            "codespace": res.codespace,
            "hash": enc.hexu(digest),
        }

    def tx(self, hash: bytes = b"", prove: bool = False) -> dict[str, Any]:
        if not hash:
            raise MethodError("transaction hash cannot be empty")
        it = self.txs.get(hash)
        if it is None:
            raise MethodError(f"tx ({enc.hexu(hash)}) not found")
        out: dict[str, Any] = {
            "hash": enc.hexu(hash),
            "height": str(it.height),
            "index": it.index,
            "tx_result": enc.result_jsonpb(it.result),
            "tx": enc.b64(it.raw),
        }
        if prove:
            block = self.blocks.get(it.height)
            leaves = [hashlib.sha256(t).digest() for t in block.txs] if block else [hash]
            out["proof"] = {
                "root_hash": enc.hexu(enc.merkle_root(leaves)),
                "data": enc.b64(it.raw),
                "proof": {
                    "total": str(len(leaves)),
                    "index": str(it.index),
                    "leaf_hash": enc.b64(hashlib.sha256(b"\x00" + hash).digest()),
                },
            }
        return out
