"""ChaosProxy: an HTTP/1.1 + websocket fault proxy in front of a CometBFT RPC port, run in-process on a
BackgroundLoop or as `harness chaos-proxy`.

    with ChaosProxy("http://127.0.0.1:26657", seed=7) as proxy:
        proxy.add_fault({"fault": "eof", "target": {"method": "abci_query", "nth": 3}, "window": {"max_count": 1}})
        ... point the API node at proxy.url ...
        records = proxy.history()

All state lives on the proxy's event loop; the Python API below hops onto it, so it is thread-safe.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Self
from urllib.parse import urlsplit

from harness.chaos import http
from harness.chaos.control import check_height_update, start_control
from harness.chaos.faults import Fault, FaultSpec, Stage
from harness.chaos.history import Decision, History, ProxiedRequest, history_to_json
from harness.chaos.holds import Delivery, DeliveryGate, Hold
from harness.chaos.link import Connection
from harness.chaos.schedule import FaultTable, InstalledFault, now_ms
from harness.chaos.targets import FaultEvent, FaultWindowSpec, Target
from harness.errors import ConfigError, StartupError
from harness.util.loop import BackgroundLoop
from harness.util.ports import LOOPBACK, ensure_port_free
from harness.util.service import StartStop


def parse_upstream(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ConfigError(f"upstream: got {url!r}, expected http://HOST:PORT (the chain's CometBFT RPC address)")
    try:
        port = parts.port or 80
    except ValueError:
        raise ConfigError(f"upstream: bad port in {url!r}, expected http://HOST:PORT") from None
    return parts.hostname, port


class ChaosProxy(StartStop):
    def __init__(
        self,
        upstream: str,
        *,
        listen_port: int = 0,
        control_port: int | None = None,
        seed: int = 0,
        loop: BackgroundLoop | None = None,
        max_records: int = 200_000,
    ) -> None:
        self.upstream = upstream
        self.upstream_host, self.upstream_port = parse_upstream(upstream)
        self.listen_port = listen_port
        self.control_port = control_port
        self.table = FaultTable(seed)
        self.gate = DeliveryGate()  # when each NewBlock reached the API node; deliveries held back on purpose
        self.seed = seed
        self._history = History(max_records)
        self._bg = loop
        self._own_loop = loop is None
        self._server: asyncio.Server | None = None
        self._control: Any = None
        self._conns: dict[int, Connection] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._next_conn_id = 1
        self._changed: asyncio.Future[None] | None = None
        self._timers: list[asyncio.TimerHandle] = []
        self.websockets: dict[int, Connection] = {}
        self.port: int | None = None

    # -- lifecycle -----------------------------------------------------------------------------------
    def start(self) -> Self:
        if self._server is not None:
            raise StartupError("chaos proxy: already started")
        ensure_port_free(self.listen_port, field="listen_port")
        if self.control_port:
            ensure_port_free(self.control_port, field="control_port")
        if self._bg is None:
            self._bg = BackgroundLoop("chaos-proxy")
        try:
            self._bg.run(self._astart())
        except BaseException:
            self.stop()
            raise
        return self

    async def _astart(self) -> None:

        self._changed = asyncio.get_running_loop().create_future()
        self._server = await asyncio.start_server(self._accept, LOOPBACK, self.listen_port, limit=http.MAX_HEADER_BYTES)
        self.port = self._server.sockets[0].getsockname()[1]
        self._control, self.control_port = await start_control(self, self.control_port or 0)

    def stop(self) -> None:
        if self._bg is None:
            return
        with contextlib.suppress(Exception):
            self._bg.run(self._astop(), timeout_s=10)
        if self._own_loop:
            self._bg.close()
            self._bg = None

    async def _astop(self) -> None:
        for t in self._timers:
            t.cancel()
        if self._server is not None:
            self._server.close()
        for conn in list(self._conns.values()):
            conn.close_all()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None
        if self._control is not None:
            await self._control.cleanup()
            self._control = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{LOOPBACK}:{self.port}/websocket"

    @property
    def control_url(self) -> str:
        return f"http://{LOOPBACK}:{self.control_port}"

    # -- used by connections (event loop only) -------------------------------------------------------
    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = Connection(self, self._next_conn_id, reader, writer)
        self._next_conn_id += 1
        self._conns[conn.id] = conn
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await conn.run()
        except asyncio.CancelledError:
            pass
        except Exception as e:  # a bug must not take the proxy down; it is recorded as evidence
            self.record(kind="connection", conn_id=conn.id, start_ms=now_ms(), end_ms=now_ms(), outcome="proxy_error",
                        error=f"{type(e).__name__}: {e}")  # fmt: skip
        finally:
            conn.close_all()
            self._conns.pop(conn.id, None)
            self._tasks.discard(task)

    @property
    def changed(self) -> asyncio.Future[None]:
        assert self._changed is not None
        return self._changed

    def notify(self) -> None:
        """Faults, windows or height changed: wake idle waits and holds, re-check websockets."""
        if self._changed is not None and not self._changed.done():
            self._changed.set_result(None)
        self._changed = asyncio.get_running_loop().create_future()
        for conn in list(self.websockets.values()):
            self.check_websocket(conn)

    def decide(self, stage: Stage, event: FaultEvent) -> list[InstalledFault]:
        chosen, decisions = self.table.decide(stage, event)
        self._history.decisions.extend(decisions)
        return chosen

    def check_websocket(self, conn: Connection) -> None:
        if conn.drop is None or conn.drop.done():
            return
        chosen = self.decide(Stage.WEBSOCKET, FaultEvent("websocket", conn.id))
        if chosen:
            conn.drop.set_result(chosen[0])

    def record(self, **fields: Any) -> ProxiedRequest:
        return self._history.open(**fields)

    def observe_height(self, height: int) -> None:
        if self.table.set_height(height):
            self.notify()

    def _schedule_wakeups(self) -> None:
        loop = asyncio.get_running_loop()
        self._timers = [t for t in self._timers if not t.cancelled()]
        for t_ms in self.table.wakeups_ms():
            delay_s = max(0.0, (t_ms - now_ms()) / 1000.0) + 0.001
            self._timers.append(loop.call_later(delay_s, self.notify))

    # -- Python API (any thread) ---------------------------------------------------------------------
    def _run(self, fn: Any, *args: Any) -> Any:
        if self._bg is None or self._server is None:
            raise StartupError("chaos proxy: not started (call start() or use it as a context manager)")

        async def call() -> Any:
            return fn(*args)

        return self._bg.run(call())

    def add_fault(
        self, spec: dict[str, Any] | FaultSpec | Fault, *, target: Target | None = None, window: FaultWindowSpec | None = None
    ) -> int:
        """Install a fault; returns its id. Takes a JSON-style dict, a FaultSpec, or a fault object plus target/window."""
        return int(self._run(self.add_fault_now, FaultSpec.of(spec, target, window)))

    def add_fault_now(self, spec: FaultSpec) -> int:
        inst = self.table.add(spec, self._next_conn_id)
        self._schedule_wakeups()
        self.notify()
        return inst.id

    def remove_fault(self, fault_id: int) -> bool:
        return bool(self._run(self.remove_fault_now, fault_id))

    def remove_fault_now(self, fault_id: int) -> bool:
        removed = self.table.remove(fault_id)
        self.notify()
        return removed

    def clear(self) -> None:
        """Remove every fault (history and PRNG state are kept)."""
        self._run(self.clear_now)

    def clear_now(self) -> None:
        self.table.clear()
        self.notify()

    def reset(self) -> None:
        """Remove every fault, forget the history and decisions, reseed the PRNG with the same seed."""
        self._run(self.reset_now)

    def reset_now(self) -> None:
        self.table.reset()
        self._history.clear()
        self.gate.clear()
        self.notify()

    def set_height(self, height: int) -> None:

        self._run(self.observe_height, check_height_update(height, self.table.height))

    @property
    def height(self) -> int | None:
        return self.table.height

    def faults(self) -> list[dict[str, Any]]:
        return list(self._run(self.table.to_json))

    def history(self) -> list[ProxiedRequest]:
        return list(self._run(self._history.snapshot))

    def decisions(self) -> list[Decision]:
        return list(self._run(lambda: list(self._history.decisions)))

    def history_json(self) -> str:
        return str(self._run(self.history_json_now))

    def history_json_now(self) -> str:
        return history_to_json(
            self._history.snapshot(), list(self._history.decisions), seed=self.seed, dropped=self._history.dropped
        )

    def last_fault_end_ms(self) -> float | None:
        return self._run(self.table.last_fault_end_ms)

    def status(self) -> dict[str, Any]:
        return dict(self._run(self.status_now))

    def status_now(self) -> dict[str, Any]:
        return {
            "listen": self.url,
            "upstream": self.upstream,
            "seed": self.seed,
            "height": self.table.height,
            "connections": len(self._conns),
            "websockets": len(self.websockets),
            "records": len(self._history.records),
            "dropped": self._history.dropped,
            "faults": len(self.table.faults),
            "holds": sum(h.outcome in ("armed", "holding") for h in self.gate.holds()),
        }

    # -- deliveries and holds (harness/chaos/holds.py) ---------------------------------------------------------------
    def arm_hold(self, height: int, max_ms: float) -> dict[str, Any]:
        """Hold NewBlock(height) from the API node until released or max_ms after NewBlock(height-1) reached it."""
        return dict(self._run(lambda: self.gate.arm(height, max_ms).to_json()))

    def release_hold(self, height: int, reason: str = "") -> dict[str, Any]:
        return dict(self._run(lambda: self.gate.release(height, reason).to_json()))

    def drop_holds(self) -> None:
        self._run(self.gate.drop_holds)

    def holds(self) -> list[Hold]:
        return [Hold.from_json(h.to_json()) for h in self._run(self.gate.holds)]  # copies: the loop owns the originals

    def deliveries(self, lo: int = 0, hi: int | None = None) -> list[Delivery]:
        return list(self._run(lambda: self.gate.deliveries(lo, hi)))

    def connections(self) -> list[int]:
        """Ids of the client connections open now."""
        return list(self._run(self.connections_now))

    def connections_now(self) -> list[int]:
        return sorted(self._conns)
