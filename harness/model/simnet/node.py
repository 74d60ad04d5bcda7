"""simnet's node: mempool, block production (DeliverTx per tx, EndBlock, commit), block store and the tx and block
indexers. Runs on one asyncio loop; `produce_block` is synchronous and never fails because of one transaction:
every tx gets its own result, and a failure of EndBlock itself is logged and rolled back (the block still commits).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from harness.model.simnet import encoding as enc
from harness.model.simnet.abci import QueryRouter
from harness.model.simnet.errors import MethodError
from harness.model.simnet.genesis import Genesis
from harness.model.simnet.gov import ST_DEPOSIT, ST_VOTING
from harness.model.simnet.search import BlockIndex, IndexedTx, TxIndex
from harness.model.simnet.state import ChainState
from harness.model.simnet.store import Event
from harness.model.simnet.txs import TxProcessor, TxResult

log = logging.getLogger("harness.model.simnet.node")

MAX_TX_BYTES = 1_048_576
MEMPOOL_MAX_TXS = 5000
MEMPOOL_MAX_BYTES = 1_073_741_824
CACHE_SIZE = 10_000
BLOCKS_KEPT = 20_000  # about 67 min at 0.2 s blocks; older heights answer "not available"
TXS_INDEXED = 100_000


class Node:
    def __init__(self, genesis: Genesis, *, rpc_address: str = "tcp://127.0.0.1:0") -> None:
        self.genesis = genesis
        self.rpc_address = rpc_address
        self.state = ChainState(genesis)
        self.txp = TxProcessor(self.state)
        self.blocks: OrderedDict[int, enc.Block] = OrderedDict()
        self._heights_by_hash: dict[bytes, int] = {}
        self.tx_index = TxIndex(TXS_INDEXED)
        self.block_index = BlockIndex()
        self.mempool: list[bytes] = []
        self._cache: deque[bytes] = deque()
        self._cache_set: set[bytes] = set()
        self.latest: enc.Block | None = None
        self.earliest: enc.Block | None = None
        self.listeners: list[Callable[[enc.Block], None]] = []
        self.node_id = hashlib.sha256(f"simnet-{genesis.chain_id}".encode()).hexdigest()[:40]
        self.genesis_time_ns = time.time_ns()
        self.router = QueryRouter(self)

    @property
    def height(self) -> int:
        return self.latest.height if self.latest else 0

    # -- mempool -------------------------------------------------------------------------
    def admit(self, tx: bytes) -> tuple[bytes, TxResult]:
        """CheckTx and, when it passes, add to the mempool. MethodError for mempool refusals (as CometBFT)."""
        digest = hashlib.sha256(tx).digest()
        if len(tx) > MAX_TX_BYTES:
            raise MethodError(f"Tx too large. Max size is {MAX_TX_BYTES}, but got {len(tx)}")
        if digest in self._cache_set:
            raise MethodError("tx already exists in cache")
        size = sum(len(t) for t in self.mempool)
        if len(self.mempool) >= MEMPOOL_MAX_TXS or size + len(tx) > MEMPOOL_MAX_BYTES:
            raise MethodError(
                f"mempool is full: number of txs {len(self.mempool)} (max: {MEMPOOL_MAX_TXS}), "
                f"total txs bytes {size} (max: {MEMPOOL_MAX_BYTES})"
            )
        res = self.txp.check_tx(tx, self.height)
        if res.code == 0:
            self.mempool.append(tx)
            self._cache.append(digest)
            self._cache_set.add(digest)
            if len(self._cache) > CACHE_SIZE:
                self._cache_set.discard(self._cache.popleft())
        return digest, res

    async def wait_included(self, digest: bytes, timeout_s: float) -> IndexedTx | None:
        """The indexed tx once a block includes it, or None after timeout_s."""
        found = self.tx_index.get(digest)
        if found is not None:
            return found
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[IndexedTx] = loop.create_future()

        def on_block(block: enc.Block) -> None:
            it = self.tx_index.get(digest)
            if it is not None and it.height == block.height and not fut.done():
                fut.set_result(it)

        self.listeners.append(on_block)
        try:
            return await asyncio.wait_for(fut, timeout_s)
        except TimeoutError:
            return None
        finally:
            self.listeners.remove(on_block)

    # -- block production ----------------------------------------------------------------
    def produce_block(self, time_ns: int | None = None) -> enc.Block:
        h = self.height + 1
        t = time.time_ns() if time_ns is None else time_ns
        if self.latest is not None and t <= self.latest.time_ns:
            t = self.latest.time_ns + 1_000_000  # block times strictly increase
        txs, self.mempool = self.mempool, []
        results = [self.txp.deliver_tx(raw, h, t) for raw in txs]
        fin_events = self._end_block(h, t)
        store = self.state.store
        for key in [k for k, ts in store.unordered_nonces.items() if ts < t]:
            del store.unordered_nonces[key]
        self.state.commit(h)
        self.txp.reset_check_state(t)
        block = enc.build_block(
            chain_id=self.genesis.chain_id,
            height=h,
            time_ns=t,
            txs=txs,
            results=results,
            finalize_events=fin_events,
            app_hash=self._app_hash(h, txs, results),
            prev=self.latest,
            validators=self.genesis.validators,
        )
        self._store(block)
        for listener in list(self.listeners):
            try:
                listener(block)
            except Exception:  # a subscriber's failure is its own, never the chain's
                log.exception("block %d listener failed", h)
        return block

    def _end_block(self, h: int, t: int) -> list[Event]:
        store = self.state.store
        busy = store.upgrades or any(p.status in (ST_DEPOSIT, ST_VOTING) for p in store.proposals.values())
        saved = self.state.checkpoint() if busy else None
        try:
            return self.state.end_block(h, t, self.txp.executor())
        except Exception:
            log.exception("EndBlock %d failed; its state changes are rolled back, the block commits", h)
            if saved is not None:
                self.state.restore(saved)
            return []

    def _app_hash(self, h: int, txs: list[bytes], results: list[TxResult]) -> bytes:
        prev_app = self.latest.app_hash if self.latest else b""
        return hashlib.sha256(
            prev_app
            + h.to_bytes(8, "big")
            + b"".join(hashlib.sha256(x).digest() for x in txs)
            + b"".join(enc.deterministic_result_bytes(r) for r in results)
            + self.state.store.mlnode_version.encode()
        ).digest()

    def _store(self, block: enc.Block) -> None:
        h = block.height
        self.blocks[h] = block
        for i, (raw, res) in enumerate(zip(block.txs, block.results, strict=True)):
            digest = hashlib.sha256(raw).digest()
            self.tx_index.add(IndexedTx(h, i, raw, res, digest))
        self.block_index.add(h, block.finalize_events, BLOCKS_KEPT)
        self._heights_by_hash[block.hash] = h
        while len(self.blocks) > BLOCKS_KEPT:
            _, old = self.blocks.popitem(last=False)
            self._heights_by_hash.pop(old.hash, None)
        self.latest = block
        self.earliest = next(iter(self.blocks.values()))

    # -- heights -------------------------------------------------------------------------
    def check_height(self, height: int | None, *, latest: int | None = None) -> int:
        """CometBFT's getHeight: None -> latest; MethodError with CometBFT's texts otherwise."""
        top = self.height if latest is None else latest
        if height is None:
            return top
        if height <= 0:
            raise MethodError(f"height must be greater than 0, but got {height}")
        if height > top:
            raise MethodError(f"height {height} must be less than or equal to the current blockchain height {top}")
        lowest = self.earliest.height if self.earliest else 1
        if height < lowest:
            raise MethodError(f"height {height} is not available, lowest height is {lowest}")
        return height

    def block_by_hash(self, digest: bytes) -> enc.Block | None:
        h = self._heights_by_hash.get(digest)
        return self.blocks.get(h) if h is not None else None

    def block_at(self, height: int | None) -> enc.Block:
        h = self.check_height(height)
        block = self.blocks.get(h)
        if block is None:
            raise MethodError(f"height {h} is not available, lowest height is {self.earliest.height if self.earliest else 1}")
        return block
