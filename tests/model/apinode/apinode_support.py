"""Small real servers for the API node's tests: a raw-socket JSON-RPC server with faults (EOF, hang), and a recording
MLNode (the fake chain is tests/support/cometbft_fake.FakeCometBFT), and the two started together on one background
loop (`fake_chain_and_mlnode`, what the API node's service tests run against). All bind 127.0.0.1:0."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from harness.util.loop import BackgroundLoop
from harness.versions import version_in_path
from tests.support.cometbft_fake import FakeCometBFT


# -- raw socket JSON-RPC server ----------------------------------------------------------------
class RawRpcServer:
    """Reads HTTP/1.1 JSON-RPC requests off raw sockets. mode per request: ok | eof (read it, close without
    answering) | hang (read it, never answer). `modes` maps method -> mode; `default` for the rest."""

    def __init__(self) -> None:
        self.default = "ok"
        self.modes: dict[str, str] = {}
        self.log: list[tuple[str, str]] = []
        self.height = 5
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> RawRpcServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def close(self) -> None:
        if self._server:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                m = re.search(rb"(?i)content-length:\s*(\d+)", head)
                body = await reader.readexactly(int(m[1]) if m else 0)
                req = json.loads(body)
                mode = self.modes.get(req["method"], self.default)
                self.log.append((req["method"], mode))
                if mode == "eof":
                    return
                if mode == "hang":
                    await asyncio.sleep(3600)
                out = json.dumps({"jsonrpc": "2.0", "id": req["id"], "result": self.result(req)}).encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(out) + out)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    def result(self, req: dict[str, Any]) -> Any:
        if req["method"] == "status":
            return {"sync_info": {"latest_block_height": str(self.height), "catching_up": False}}
        return {}


# -- recording MLNode --------------------------------------------------------------------------
@dataclass
class Call:
    method: str
    path: str
    version: str | None
    headers: dict[str, str]
    body: bytes
    at_s: float = 0.0


@dataclass
class FakeMLNode:
    """Answers the MLNode API under any /vX.Y.Z/ prefix with per-version state; records every request."""

    calls: list[Call] = field(default_factory=list)
    states: dict[str, str] = field(default_factory=dict)
    runner: web.AppRunner | None = None
    port: int = 0

    async def start(self) -> FakeMLNode:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._any)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def close(self) -> None:
        if self.runner:
            await self.runner.cleanup()

    async def _any(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        version = version_in_path(request.path)
        self.calls.append(Call(request.method, request.path, version, dict(request.headers), body, time.time()))
        v = version or ""
        rest = request.path[len(v) + 1 :] if v else request.path
        if rest == "/api/v1/state":
            return web.json_response({"state": self.states.get(v, "STOPPED")})
        if rest == "/api/v1/stop":
            self.states[v] = "STOPPED"
        elif rest == "/api/v1/inference/up":
            self.states[v] = "INFERENCE"
        elif rest.startswith("/api/v1/pow/init"):
            self.states[v] = "POW"
        elif rest == "/api/v1/pow/status":
            return web.json_response({"status": "IDLE", "is_model_initialized": False})
        elif rest == "/health":
            return web.json_response({})
        elif rest == "/v1/chat/completions":
            req = json.loads(body or b"{}")
            if req.get("model") == "broken":
                return web.json_response({"error": "model crashed"}, status=500)
            if req.get("stream"):
                resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
                await resp.prepare(request)
                for i in range(3):
                    await resp.write(f"data: {json.dumps({'chunk': i, 'version': v})}\n\n".encode())
                await resp.write(b"data: [DONE]\n\n")
                await resp.write_eof()
                return resp
            return web.json_response(
                {"object": "chat.completion", "choices": [{"message": {"content": f"Response from version {v}"}}]}
            )
        return web.json_response({"status": "OK"})

    def paths(self, method: str | None = None) -> list[str]:
        return [c.path for c in self.calls if method is None or c.method == method]


# -- the fake chain and an MLNode on one loop ---------------------------------------------------------------------
@contextlib.contextmanager
def fake_chain_and_mlnode(name: str, mlnode: FakeMLNode | None = None) -> Iterator[tuple[BackgroundLoop, FakeCometBFT, Any]]:
    """A background loop (`name`) running the fake chain at height 1 and an MLNode (a FakeMLNode unless one is given,
    started here); yields (loop, chain, mlnode) and stops all three afterwards."""
    loop = BackgroundLoop(name)
    chain = FakeCometBFT(height=1, loop=loop).start()
    ml = loop.run((mlnode or FakeMLNode()).start())
    try:
        yield loop, chain, ml
    finally:
        chain.stop()
        loop.run(ml.close())
        loop.close()
