"""NewBlock listener over the chain's /websocket, with the upstream subscription frames (string ids "1".."4").

Heights are handed to `on_heights(list[int])` strictly in order and without gaps: a gap in the event stream, or the
time the socket was down, is filled by querying `status` for the latest height and replaying the missed heights.
A dropped socket (close 1006 / EOF) is redialled with bounded exponential backoff.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

log = logging.getLogger("harness.model.apinode.listener")

SUBSCRIPTIONS = (
    "tm.event='NewBlock'",
    "tm.event='Tx' AND message.module='inference'",
    "tm.event='Tx' AND message.module='bls'",
    "tm.event='Tx' AND message.action='/cosmos.authz.v1beta1.MsgExec'",
)
MAX_CATCH_UP = 10_000  # a larger gap is replayed as its newest MAX_CATCH_UP heights


def subscribe_frames() -> list[str]:
    """Exactly upstream's frames (utils.go:subscribeToEvents), spacing included."""
    return [
        json.dumps({"jsonrpc": "2.0", "method": "subscribe", "id": str(i + 1), "params": [q]})
        for i, q in enumerate(SUBSCRIPTIONS)
    ]


def parse_new_block(msg: dict[str, Any]) -> tuple[int, str] | None:
    """(height, block hash) of a NewBlock event; None for acks, Tx events and events with a non-string id
    (upstream's decoder drops those)."""
    if not isinstance(msg.get("id"), str):
        return None
    data = (msg.get("result") or {}).get("data") or {}
    if data.get("type") != "tendermint/event/NewBlock":
        return None
    value = data.get("value") or {}
    try:
        height = int(value["block"]["header"]["height"])
    except (KeyError, TypeError, ValueError):
        return None
    return height, str((value.get("block_id") or {}).get("hash") or "")


class BlockListener:
    def __init__(
        self,
        ws_url: str,
        *,
        on_heights: Callable[[list[int], str], Awaitable[None]],
        latest_height: Callable[[], Awaitable[int]],
        start_height: int = 0,
        backoff_min_s: float = 0.05,
        backoff_max_s: float = 2.0,
    ) -> None:
        self.ws_url = ws_url
        self.on_heights = on_heights
        self.latest_height = latest_height
        self.last_height = start_height
        self.backoff_min_s = backoff_min_s
        self.backoff_max_s = backoff_max_s
        self.connects = 0
        self.drops = 0
        self.caught_up = 0  # heights replayed from `status` rather than seen as events
        self.connected = False
        self._session: aiohttp.ClientSession | None = None

    async def run(self) -> None:
        """Listen until cancelled."""
        self._session = aiohttp.ClientSession()
        backoff = self.backoff_min_s
        try:
            while True:
                try:
                    await self._listen_once()
                    backoff = self.backoff_min_s
                except asyncio.CancelledError:
                    raise
                except Exception as e:
                    log.warning("websocket %s: %s; redialling in %.2f s", self.ws_url, e, backoff)
                self.connected = False
                self.drops += 1
                await asyncio.sleep(backoff)  # bounded exponential backoff between redials
                backoff = min(self.backoff_max_s, backoff * 2)
        finally:
            await self._session.close()

    async def _listen_once(self) -> None:
        assert self._session is not None
        async with self._session.ws_connect(self.ws_url, heartbeat=None, autoping=True, max_msg_size=0) as ws:
            for frame in subscribe_frames():
                await ws.send_str(frame)
            self.connects += 1
            self.connected = True
            await self._catch_up()  # first connect: learn the latest height; reconnect: replay what was missed
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                try:
                    parsed = parse_new_block(json.loads(msg.data))
                except ValueError:
                    continue
                if parsed is not None:
                    await self._advance(parsed[0], parsed[1])
            log.warning("websocket %s closed (code %s)", self.ws_url, ws.close_code)

    async def _catch_up(self) -> None:
        try:
            latest = await self.latest_height()
        except Exception as e:
            log.warning("catch-up: status failed (%s); heights are filled from the next event", e)
            return
        if latest > self.last_height:
            await self._advance(latest, "")

    async def _advance(self, height: int, block_hash: str) -> None:
        if height <= self.last_height:
            return
        first = self.last_height + 1 if self.last_height > 0 else height
        first = max(first, height - MAX_CATCH_UP + 1)
        heights = list(range(first, height + 1))
        self.caught_up += len(heights) - 1
        self.last_height = height
        await self.on_heights(heights, block_hash)
