"""Chain connection pool with auto-healing (what upstream's later connection_pool.go does).

    pool = ChainPool(url, size=3, healing=True, health_interval_s=30)
    await pool.start()                         # continues when some slots fail (graceful degradation)
    result = await pool.call("status")         # health-checked client, round-robin, retried on another slot on
                                               # EOF / reset / timeout, bounded by one per-call deadline
    msg = await pool.abci_query(p.Q_MLNODE_VERSION)
    pool.snapshot()                            # {"size", "healthy", "replaced", "failures", "slots": [...]}

Every slot is its own NodeRpcClient (own aiohttp session, exactly one TCP connection at a time). The healer health-checks
every slot each interval and replaces dead ones (new session, generation + 1). With no healthy slot a call fails fast with
NoHealthyConnections naming the last errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from harness.errors import ChainError
from harness.model.apinode.rpc import ChainTransportError, NodeRpcClient, abci_query, describe

log = logging.getLogger("harness.model.apinode.chainpool")


class NoHealthyConnections(ChainError):
    pass


@dataclass
class Slot:
    index: int
    url: str
    client: NodeRpcClient
    healthy: bool = False
    generation: int = 0
    last_error: str = ""
    checked_at: float = 0.0  # monotonic time of the last health verdict
    calls: int = 0
    failures: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "healthy": self.healthy,
            "generation": self.generation,
            "last_error": self.last_error,
            "calls": self.calls,
            "failures": self.failures,
        }


class ChainPool:
    def __init__(
        self,
        url: str | Sequence[str],
        *,
        size: int = 3,
        healing: bool = True,
        health_interval_s: float = 30.0,
        call_timeout_s: float = 5.0,
        ping_timeout_s: float = 1.0,
        health_ttl_s: float | None = None,
    ) -> None:
        urls = [url] if isinstance(url, str) else list(url)
        if not urls or size < 1:
            raise ValueError("ChainPool needs at least one URL and size >= 1")
        self.urls = [urls[i % len(urls)] for i in range(size)]  # per-slot endpoint (tests may point slots apart)
        self.size = size
        self.healing = healing
        self.health_interval_s = health_interval_s
        self.call_timeout_s = call_timeout_s
        self.ping_timeout_s = min(ping_timeout_s, call_timeout_s)
        # a health verdict younger than this is trusted without a new ping
        self.health_ttl_s = health_ttl_s if health_ttl_s is not None else min(2.0, max(0.05, health_interval_s))
        self.slots: list[Slot] = []
        self.replaced = 0
        self.failures = 0
        self.calls = 0
        self._next = 0
        self._lock = asyncio.Lock()
        self._healer: asyncio.Task[None] | None = None
        self._closed = False

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        self.slots = [Slot(i, u, NodeRpcClient(u, name=f"slot{i}", max_connections=1)) for i, u in enumerate(self.urls)]
        await asyncio.gather(*(self._check(s) for s in self.slots))
        healthy = sum(s.healthy for s in self.slots)
        if healthy < self.size:
            log.warning("chain pool started degraded: %d/%d healthy (%s)", healthy, self.size, self._errors())
        if self.healing:
            self._healer = asyncio.create_task(self._heal_loop(), name="chainpool-healer")

    async def close(self) -> None:
        self._closed = True
        if self._healer:
            self._healer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._healer
        await asyncio.gather(*(s.client.close() for s in self.slots), return_exceptions=True)

    # -- health ----------------------------------------------------------------------------
    async def _check(self, slot: Slot) -> bool:
        try:
            await slot.client.health(timeout_s=self.ping_timeout_s)
        except ChainError as e:
            self._mark_bad(slot, str(e))
            return False
        except Exception as e:  # a broken session raises anything; it is still "unhealthy", never fatal
            self._mark_bad(slot, describe(e))
            return False
        slot.healthy, slot.checked_at = True, time.monotonic()
        return True

    def _mark_bad(self, slot: Slot, error: str) -> None:
        slot.healthy, slot.last_error, slot.checked_at = False, error, time.monotonic()

    async def _replace(self, slot: Slot) -> None:
        """A fresh client (new session and connections) in the slot; the old one is closed."""
        old = slot.client
        slot.client = NodeRpcClient(slot.url, name=f"slot{slot.index}g{slot.generation + 1}", max_connections=1)
        slot.generation += 1
        self.replaced += 1
        await old.close()

    async def heal_once(self) -> None:
        """Health-check every slot; replace each one that fails and check the replacement."""

        async def one(slot: Slot) -> None:
            if await self._check(slot):
                return
            await self._replace(slot)
            await self._check(slot)

        await asyncio.gather(*(one(s) for s in self.slots))

    async def _heal_loop(self) -> None:
        while not self._closed:
            await asyncio.sleep(self.health_interval_s)  # the healer's period, not a synchronisation
            try:
                await self.heal_once()
            except Exception:  # the healer must never die
                log.exception("chain pool healer round failed")

    # -- selection -------------------------------------------------------------------------
    async def get_client(self) -> Slot:
        """A slot verified healthy: a fresh verdict is trusted, otherwise pinged; tries every slot, round-robin."""
        async with self._lock:
            start = self._next
            self._next = (self._next + 1) % len(self.slots)
        now = time.monotonic()
        stale: list[Slot] = []
        for i in range(len(self.slots)):
            slot = self.slots[(start + i) % len(self.slots)]
            fresh = now - slot.checked_at < self.health_ttl_s
            if slot.healthy and fresh:
                return slot
            if not fresh:
                stale.append(slot)
        for slot in stale:  # unverified slots: a cheap health ping with a short timeout
            if await self._check(slot):
                return slot
        raise NoHealthyConnections(
            f"no healthy chain connections available (0/{len(self.slots)} healthy; last errors: {self._errors()})"
        )

    def _errors(self) -> str:
        return (
            "; ".join(f"slot{s.index}: {s.last_error}" for s in self.slots if s.last_error and not s.healthy) or "none recorded"
        )

    # -- calls -----------------------------------------------------------------------------
    async def call(self, method: str, params: dict[str, Any] | None = None, *, timeout_s: float | None = None) -> Any:
        """One JSON-RPC call, retried on another slot after a transport failure; never longer than timeout_s."""
        deadline_s = timeout_s if timeout_s is not None else self.call_timeout_s
        self.calls += 1
        try:
            async with asyncio.timeout(deadline_s):
                return await self._call_with_retry(method, params, deadline_s)
        except TimeoutError:
            raise ChainTransportError(
                f"{method}: no answer within the {deadline_s:.2f} s call deadline ({self._errors()})"
            ) from None

    async def _call_with_retry(self, method: str, params: dict[str, Any] | None, deadline_s: float) -> Any:
        loop = asyncio.get_running_loop()
        end = loop.time() + deadline_s
        last: ChainTransportError | None = None
        for _attempt in range(len(self.slots)):
            slot = await self.get_client()
            slot.calls += 1
            try:
                result = await slot.client.call(method, params, timeout_s=max(0.01, end - loop.time()))
            except ChainTransportError as e:
                last = e
                slot.failures += 1
                self.failures += 1
                self._mark_bad(slot, str(e))
                log.info("chain call %s failed on slot %d (%s); trying another", method, slot.index, e)
                continue
            slot.healthy, slot.checked_at = True, time.monotonic()  # an answer is proof of health
            return result
        assert last is not None
        raise last

    async def abci_query(self, path: str, request: Message | None = None, *, timeout_s: float | None = None) -> Message:
        return await abci_query(self.call, path, request, timeout_s=timeout_s if timeout_s is not None else self.call_timeout_s)

    async def latest_height(self) -> int:
        st = await self.call("status")
        return int(st["sync_info"]["latest_block_height"])

    # -- state -----------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return {
            "size": len(self.slots),
            "healthy": sum(s.healthy for s in self.slots),
            "replaced": self.replaced,
            "failures": self.failures,
            "calls": self.calls,
            "healing": self.healing,
            "health_interval_s": self.health_interval_s,
            "slots": [s.as_dict() for s in self.slots],
        }
