"""HTTP surface of the API node: public app, admin app, MLNode callback app (aiohttp, 127.0.0.1 only).

public   GET /v1/status, GET /v1/versions, POST /v1/chat/completions (proxied to the locked node's current-version
         inference URL; SSE passed through chunk by chunk; no node -> 503 without any MLNode call; an MLNode 5xx or no
         answer is retried on the then current version for the profile's chat_retry_ms; then MLNode 503 -> 503, other
         failures -> 500, the error naming the MLNode, its version and the attempts)
admin    GET|POST /admin/v1/nodes, DELETE /admin/v1/nodes/{id}, POST /admin/v1/nodes/{id}/enable|disable,
         GET /admin/v1/debug/chain-pool, /admin/v1/debug/state, /admin/v1/debug/poc-batches
callback POST /v1/poc-batches/{generated,validated} and /mlnode/v1/poc-batches/{generated,validated}
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web

from harness.errors import ConfigError
from harness.model.apinode.config import MAX_ID_LEN, MAX_NODES, MAX_TEXT_LEN, NODE_ID_FORM, NODE_ID_RE, NodeConfig
from harness.model.apinode.mlnode import inference_url, join_path
from harness.util.webapp import error_response, json_app, read_json
from harness.validate import as_text, json_value, shown

if TYPE_CHECKING:
    from harness.model.apinode.core import ApiNodeCore

HOST = "127.0.0.1"


_error = error_response
MAX_POC_BATCHES = 1000  # per kind: the callback app keeps the newest ones (debug endpoint), never an unbounded list


def _node_id(request: web.Request, core: ApiNodeCore) -> str:
    """The {id} of the URL: a well-formed node id (else 400) of a registered node (else 404)."""
    node_id = as_text(request.match_info["id"], "node id", max_len=MAX_ID_LEN, pattern=NODE_ID_RE, form=NODE_ID_FORM)
    if node_id not in core.broker.nodes:
        raise web.HTTPNotFound(text=f"node {shown(node_id)} not found; known: {shown(sorted(core.broker.nodes), 300)}")
    return node_id


# -- public -----------------------------------------------------------------------------------
def public_app(core: ApiNodeCore) -> web.Application:
    app = json_app()

    async def status(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def versions(_: web.Request) -> web.Response:
        st = core.state
        return web.json_response(
            {
                "timestamp": int(time.time() * 1e9),
                "api_version": {"application_name": "harness-apinode", "version": "0.1.0", "commit": ""},
                "node_version": {
                    "current": st.current_node_version,
                    "last_used": st.last_used_version,
                    "profile": core.profile.name,
                },
            }
        )

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        payload = json_value(body, "chat completion request") if body else {}
        if not isinstance(payload, dict):
            return _error(400, "request body must be a JSON object (an OpenAI chat completion request)")
        model = payload.get("model") if isinstance(payload.get("model"), str) else None
        if model is not None and len(model) > MAX_TEXT_LEN:
            return _error(400, f"model: at most {MAX_TEXT_LEN} characters, got {shown(model)}")
        return await _chat_with_retries(core, request, body, model)

    app.router.add_get("/v1/status", status)
    app.router.add_get("/v1/versions", versions)
    app.router.add_post("/v1/chat/completions", chat)
    return app


RETRY_PAUSE_S = 0.05  # between two attempts of one chat


@dataclass(frozen=True)
class _Failed:
    """An attempt the MLNode did not answer with 2xx (nothing was sent to the user yet)."""

    status: int  # what the user gets if no attempt succeeds
    error: str
    retryable: bool  # a 5xx or no answer at all: another attempt may succeed
    details: dict


async def _chat_with_retries(core: ApiNodeCore, request: web.Request, body: bytes, model: str | None) -> web.StreamResponse:
    """Lock a node and proxy the chat to its current-version inference URL. An attempt the MLNode failed (5xx, reset,
    timeout) is sent again, on the version current at that moment (waiting for a node to serve again if none does),
    for up to the profile's chat_retry_ms; the user gets the last failure, naming the MLNode, its version and the
    attempts. 4xx answers are not retried; a chat that finds no node at its first try is refused at once (503)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + core.profile.chat_retry_ms / 1000
    attempts = 0
    while True:
        entry = core.broker.lock_node(model)
        if entry is None and attempts and loop.time() + RETRY_PAUSE_S < deadline:
            await asyncio.sleep(RETRY_PAUSE_S)  # a retry waits, within its budget, for a node to serve again
            continue
        if entry is None:
            why = f" (after {attempts} failed attempts)" if attempts else ""
            return _error(503, f"no MLNode available for model {shown(model)}{why}", nodes=core.broker.why_unavailable(model))
        attempts += 1
        version = core.state.current_node_version
        try:
            outcome = await _forward(core, entry, version, request, body)
        finally:
            core.broker.unlock_node(entry)
        if not isinstance(outcome, _Failed):
            return outcome
        if outcome.retryable and loop.time() + RETRY_PAUSE_S < deadline:
            await asyncio.sleep(RETRY_PAUSE_S)  # the pause between attempts, not a wait for a condition
            continue
        tries = f" ({attempts} attempts in {core.profile.chat_retry_ms} ms)" if attempts > 1 else ""
        return _error(outcome.status, outcome.error + tries, version=version, **outcome.details)


async def _forward(core: ApiNodeCore, entry, version: str, request: web.Request, body: bytes) -> web.StreamResponse | _Failed:
    url = join_path(inference_url(entry.config, version), "/v1/chat/completions")
    headers = {"Content-Type": request.headers.get("Content-Type", "application/json")}
    node = entry.config.id
    try:
        async with core.broker.session.post(
            url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=300, sock_connect=10)
        ) as r:
            if not 200 <= r.status < 300:
                text = await r.text()
                # an MLNode that is unavailable (loading, not running) is the user's 503; any other failure a 500
                status = 503 if r.status == 503 else 500
                return _Failed(status, f"MLNode {node} answered HTTP {r.status}", r.status >= 500,
                               {"url": url, "body": text[:2000]})  # fmt: skip
            ctype = r.headers.get("Content-Type", "application/json")
            if "text/event-stream" in ctype:
                resp = web.StreamResponse(status=r.status, headers={"Content-Type": ctype})
                await resp.prepare(request)
                async for chunk in r.content.iter_any():
                    await resp.write(chunk)
                await resp.write_eof()
                return resp
            return web.Response(status=r.status, body=await r.read(), headers={"Content-Type": ctype})
    except (aiohttp.ClientError, TimeoutError) as e:
        return _Failed(500, f"MLNode {node} unreachable: {type(e).__name__}: {e}", True, {"url": url})


# -- admin ------------------------------------------------------------------------------------
def admin_app(core: ApiNodeCore) -> web.Application:
    app = json_app()

    async def list_nodes(_: web.Request) -> web.Response:
        return web.json_response([e.as_dict() for e in core.broker.nodes.values()])

    async def add_node(request: web.Request) -> web.Response:
        node = NodeConfig.from_dict(await read_json(request, "node"), where="node")
        if node.id in core.broker.nodes:
            raise ConfigError(f"node.id: a node with id {node.id!r} already exists; DELETE it first or pick another id")
        if len(core.broker.nodes) >= MAX_NODES:
            raise ConfigError(f"node: the API node already has {MAX_NODES} nodes, its limit; DELETE one first")
        entry = await core.add_node(node)
        return web.json_response(entry.config.as_dict())

    async def delete_node(request: web.Request) -> web.Response:
        entry = await core.delete_node(_node_id(request, core))
        return web.json_response(entry.config.as_dict() if entry else {})

    def toggler(enabled: bool):
        async def handler(request: web.Request) -> web.Response:
            node_id = _node_id(request, core)
            core.set_enabled(node_id, enabled)
            word = "enabled" if enabled else "disabled"
            return web.json_response({"message": f"node {word} successfully", "node_id": node_id})

        return handler

    async def chain_pool(_: web.Request) -> web.Response:
        return web.json_response(core.pool.snapshot())

    async def debug_state(_: web.Request) -> web.Response:
        return web.json_response(core.debug_state())

    async def poc_batches(_: web.Request) -> web.Response:
        return web.json_response(core.poc_batches)

    async def poc_cycle(_: web.Request) -> web.Response:
        """Harness-only: run one PoC cycle (generate, validate init, validate batches, inference) from the next block."""
        core.broker.request_poc_cycle()
        return web.json_response({"message": "PoC cycle starts at the next block", "phase": core.broker.poc_phase})

    app.router.add_get("/admin/v1/nodes", list_nodes)
    app.router.add_post("/admin/v1/nodes", add_node)
    app.router.add_delete("/admin/v1/nodes/{id}", delete_node)
    app.router.add_post("/admin/v1/nodes/{id}/enable", toggler(True))
    app.router.add_post("/admin/v1/nodes/{id}/disable", toggler(False))
    app.router.add_get("/admin/v1/debug/chain-pool", chain_pool)
    app.router.add_get("/admin/v1/debug/state", debug_state)
    app.router.add_get("/admin/v1/debug/poc-batches", poc_batches)
    app.router.add_post("/admin/v1/debug/poc-cycle", poc_cycle)
    return app


# -- MLNode callbacks -------------------------------------------------------------------------
def callback_app(core: ApiNodeCore) -> web.Application:
    app = json_app()

    def receiver(kind: str):
        async def handler(request: web.Request) -> web.Response:
            body = await read_json(request, f"{kind} batch")
            batches = core.poc_batches[kind]
            batches.append({"path": request.path, "at_ms": int(time.time() * 1000), "body": body})
            del batches[:-MAX_POC_BATCHES]
            return web.json_response({"status": "ok"})

        return handler

    for prefix in ("/v1/poc-batches", "/mlnode/v1/poc-batches"):
        app.router.add_post(f"{prefix}/generated", receiver("generated"))
        app.router.add_post(f"{prefix}/validated", receiver("validated"))
    return app


async def serve(app: web.Application, port: int) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, HOST, port, reuse_address=False)
    try:
        await site.start()
    except OSError as e:
        await runner.cleanup()
        raise ConfigError(f"cannot listen on {HOST}:{port}: {e.strerror}; pick another port or pass 0") from None
    sock = site._server.sockets[0]  # type: ignore[union-attr]
    return runner, sock.getsockname()[1]
