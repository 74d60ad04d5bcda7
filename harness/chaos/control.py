"""The proxy's control API (aiohttp, 127.0.0.1) and `ChaosControl`, a small synchronous client for other processes.

    GET    /status             listen/upstream/seed/height/counters
    GET    /faults             installed faults with state (pending, active, ended) and applied count
    POST   /faults             {"fault": "eof", "target": {...}, "window": {...}, "params": {...}} -> {"id": n}
    DELETE /faults/{id}        remove one fault (404 if unknown)
    DELETE /faults             remove all faults
    GET    /history            {"seed", "dropped", "records": [...], "decisions": [...]}
    POST   /reset              remove faults, forget history and decisions, reseed the PRNG
    POST   /height             {"height": n}: tell the proxy the block height (it never goes down)
    GET    /deliveries         [{"height", "ms", "conn_id"}]: when each NewBlock reached the API node (?from=&to=)
    GET    /holds              the holds and how each ended (harness/chaos/holds.py)
    POST   /holds              {"height": h, "max_ms": n}: hold NewBlock(h) until released or D(h-1) + max_ms
    POST   /holds/{h}/release  {"reason": "..."}: deliver it now
    DELETE /holds              release every hold and forget them

Bad input answers 400 with {"error": "<field>: <what was wrong and the accepted form>"}.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any

from aiohttp import web

from harness.chaos.faults import FaultSpec
from harness.chaos.history import Decision, ProxiedRequest, as_records
from harness.chaos.holds import Delivery, Hold
from harness.chaos.targets import MAX_HEIGHT_SPAN
from harness.errors import ConfigError, HarnessError, Unreachable
from harness.util.ports import LOOPBACK
from harness.util.webapp import error_response, json_app, read_json
from harness.validate import as_height, int_text, shown

if TYPE_CHECKING:
    from harness.chaos.proxy import ChaosProxy


_error = error_response


def check_height_update(height: Any, known: int | None) -> int:
    """A height someone tells the proxy: an int64, and not absurdly far above the height it knows (the height never
    goes down, so one wrong value would stick)."""
    height = as_height(height, "height")
    if known is not None and height > known + MAX_HEIGHT_SPAN:
        raise ConfigError(
            f"height: {height} is more than {MAX_HEIGHT_SPAN} blocks above the known height {known}; the proxy's height "
            "never goes down, so give a height the chain has reached (POST /reset forgets the height)"
        )
    return height


def build_app(proxy: ChaosProxy) -> web.Application:
    routes = web.RouteTableDef()

    @routes.get("/status")
    async def status(_: web.Request) -> web.Response:
        return web.json_response(proxy.status_now())

    @routes.get("/faults")
    async def list_faults(_: web.Request) -> web.Response:
        return web.json_response(proxy.table.to_json())

    @routes.post("/faults")
    async def add_fault(request: web.Request) -> web.Response:
        spec = FaultSpec.from_json(await read_json(request, "spec"))
        return web.json_response({"id": proxy.add_fault_now(spec)}, status=201)

    @routes.delete("/faults/{fault_id}")
    async def remove_fault(request: web.Request) -> web.Response:
        fault_id = int_text(request.match_info["fault_id"], "fault id", lo=1, what="a fault id (see GET /faults)")
        if not proxy.remove_fault_now(fault_id):
            return _error(404, f"fault {fault_id} not found (see GET /faults)")
        return web.json_response({"removed": fault_id})

    @routes.delete("/faults")
    async def clear(_: web.Request) -> web.Response:
        proxy.clear_now()
        return web.json_response({"cleared": True})

    @routes.get("/connections")
    async def connections(_: web.Request) -> web.Response:
        return web.json_response(proxy.connections_now())

    @routes.get("/history")
    async def history(_: web.Request) -> web.Response:
        return web.Response(text=proxy.history_json_now(), content_type="application/json")

    @routes.post("/reset")
    async def reset(_: web.Request) -> web.Response:
        proxy.reset_now()
        return web.json_response({"reset": True})

    @routes.post("/height")
    async def height(request: web.Request) -> web.Response:
        doc = await read_json(request, "body")
        if not isinstance(doc, dict) or set(doc) != {"height"}:
            raise ConfigError(f'body: expected {{"height": n}}, got {shown(doc)}')
        proxy.observe_height(check_height_update(doc["height"], proxy.table.height))
        return web.json_response({"height": proxy.table.height})

    _hold_routes(routes, proxy)
    app = json_app()
    app.add_routes(routes)
    return app


def _hold_routes(routes: web.RouteTableDef, proxy: ChaosProxy) -> None:
    gate = proxy.gate

    @routes.get("/deliveries")
    async def deliveries(request: web.Request) -> web.Response:
        q = request.query
        lo = int_text(q["from"], "from", what="a block height") if "from" in q else 0
        hi = int_text(q["to"], "to", what="a block height") if "to" in q else None
        return web.json_response([d.to_json() for d in gate.deliveries(lo, hi)])

    @routes.get("/holds")
    async def holds(_: web.Request) -> web.Response:
        return web.json_response([h.to_json() for h in gate.holds()])

    @routes.post("/holds")
    async def arm(request: web.Request) -> web.Response:
        doc = await read_json(request, "body")
        if not isinstance(doc, dict) or set(doc) != {"height", "max_ms"}:
            raise ConfigError(f'body: expected {{"height": h, "max_ms": n}}, got {shown(doc)}')
        return web.json_response(gate.arm(doc["height"], doc["max_ms"]).to_json(), status=201)

    @routes.post("/holds/{height}/release")
    async def release(request: web.Request) -> web.Response:
        height = int_text(request.match_info["height"], "height", lo=0, what="a held height (see GET /holds)")
        doc = await read_json(request, "body") if request.can_read_body else {}
        if not isinstance(doc, dict) or set(doc) - {"reason"} or not isinstance(doc.get("reason", ""), str):
            raise ConfigError(f'body: expected {{"reason": "..."}} or nothing, got {shown(doc)}')
        return web.json_response(gate.release(height, doc.get("reason", "")).to_json())

    @routes.delete("/holds")
    async def drop(_: web.Request) -> web.Response:
        gate.drop_holds()
        return web.json_response({"dropped": True})


async def start_control(proxy: ChaosProxy, port: int) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(build_app(proxy), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, LOOPBACK, port)
    await site.start()
    server = site._server
    bound = server.sockets[0].getsockname()[1] if server is not None and server.sockets else port  # type: ignore[union-attr]
    return runner, bound


class ChaosControl:
    """Synchronous client of the control API, for scenarios driving a proxy in another process."""

    def __init__(self, control_url: str, timeout_s: float = 10.0) -> None:
        self.base = control_url.rstrip("/")
        self.timeout_s = timeout_s

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as e:
            detail = e.read().decode(errors="replace")
            try:
                detail = json.loads(detail)["error"]
            except (ValueError, KeyError, TypeError):
                pass
            if 400 <= e.code < 500:  # refused input or an unknown fault id: bad input, like a local refusal
                raise ConfigError(f"chaos proxy {method} {path}: HTTP {e.code}: {shown(detail, 500)}") from None
            raise HarnessError(f"chaos proxy {method} {path}: HTTP {e.code}: {shown(detail, 500)}") from None
        except OSError as e:
            raise Unreachable(f"chaos proxy control API at {self.base} unreachable: {e}; is the proxy running?") from None

    def status(self) -> dict[str, Any]:
        return dict(self._call("GET", "/status"))

    def faults(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/faults"))

    def add_fault(self, spec: dict[str, Any] | FaultSpec) -> int:
        doc = spec.to_json() if isinstance(spec, FaultSpec) else spec
        return int(self._call("POST", "/faults", doc)["id"])

    def remove_fault(self, fault_id: int) -> None:
        self._call("DELETE", f"/faults/{int(fault_id)}")

    def clear(self) -> None:
        self._call("DELETE", "/faults")

    def reset(self) -> None:
        self._call("POST", "/reset", {})

    def set_height(self, height: int) -> None:
        self._call("POST", "/height", {"height": height})

    def history_doc(self) -> dict[str, Any]:
        return dict(self._call("GET", "/history"))

    def history(self) -> list[ProxiedRequest]:
        return as_records(self.history_doc())

    def decisions(self) -> list[Decision]:
        return [Decision(**{**d, "methods": tuple(d["methods"])}) for d in self.history_doc().get("decisions", [])]

    def connections(self) -> list[int]:
        """Ids of the client connections open now."""
        return [int(c) for c in self._call("GET", "/connections")]

    @property
    def height(self) -> int | None:
        return self.status()["height"]

    def arm_hold(self, height: int, max_ms: float) -> dict[str, Any]:
        """Hold NewBlock(height) from the API node until released or max_ms after NewBlock(height-1) reached it."""
        return dict(self._call("POST", "/holds", {"height": height, "max_ms": max_ms}))

    def release_hold(self, height: int, reason: str = "") -> dict[str, Any]:
        return dict(self._call("POST", f"/holds/{int(height)}/release", {"reason": reason}))

    def drop_holds(self) -> None:
        self._call("DELETE", "/holds")

    def holds(self) -> list[Hold]:
        return [Hold.from_json(h) for h in self._call("GET", "/holds")]

    def deliveries(self, lo: int = 0, hi: int | None = None) -> list[Delivery]:
        query = f"?from={int(lo)}" + (f"&to={int(hi)}" if hi is not None else "")
        return [Delivery.from_json(d) for d in self._call("GET", "/deliveries" + query)]
