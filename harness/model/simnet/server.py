"""simnet as a service: `Simnet` runs in-process on a background event loop; `SimnetProcess` runs
`python -m harness simnet` as a supervised child process. Both bind 127.0.0.1 only and expose `.rpc_url`.

    with Simnet(Genesis(block_time_s=0.1)) as net:
        requests.post(net.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": "status"})
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sys
from pathlib import Path
from typing import Self

from aiohttp import web

from harness.errors import ConfigError, StartupError
from harness.model.simnet.genesis import Genesis
from harness.model.simnet.node import Node
from harness.model.simnet.rpc import RpcServer
from harness.util.loop import BackgroundLoop
from harness.util.ports import LOOPBACK, ensure_port_free
from harness.util.process import ManagedProcess
from harness.util.service import StartStop

log = logging.getLogger("harness.model.simnet")
READY_RE = re.compile(r"simnet ready rpc=(http://127\.0\.0\.1:(\d+)) chain_id=(\S+)")


class SimnetCore:
    """The async part shared by Simnet and the CLI: HTTP site plus the block producer."""

    def __init__(self, genesis: Genesis, port: int = 0) -> None:
        self.genesis = genesis
        self.requested_port = port
        self.node = Node(genesis)
        self.server = RpcServer(self.node)
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._producer: asyncio.Task[None] | None = None
        self._resume = asyncio.Event()

    async def start(self, *, paused: bool = False) -> None:
        self._runner = web.AppRunner(self.server.app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, LOOPBACK, self.requested_port, reuse_address=True)
        try:
            await site.start()
        except OSError as e:
            await self._runner.cleanup()
            raise StartupError(f"simnet: cannot listen on {LOOPBACK}:{self.requested_port}: {e.strerror}; pass port 0") from None
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.node.rpc_address = f"tcp://{LOOPBACK}:{self.port}"
        if not paused:
            self._resume.set()
        self._producer = asyncio.get_running_loop().create_task(self._produce())

    async def stop(self) -> None:
        if self._producer is not None:
            self._producer.cancel()
            with contextlib.suppress(BaseException):
                await self._producer
            self._producer = None
        await self.server.hub.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _produce(self) -> None:
        loop = asyncio.get_running_loop()
        bt = float(self.genesis.block_time_s)
        next_due = loop.time() + bt
        while True:
            if not self._resume.is_set():
                await self._resume.wait()
                next_due = loop.time() + bt
            delay = next_due - loop.time()
            await asyncio.sleep(delay if delay > 0 else 0)  # block time 0: still yield to the loop
            if not self._resume.is_set():
                continue
            upgrade_heights = set(self.node.state.store.upgrades)
            try:
                self.node.produce_block()
            except Exception:  # never let one bad block stop the chain; the error is in the log
                log.exception("block %d failed", self.node.height + 1)
            now = loop.time()
            next_due = next_due + bt if next_due + bt > now - bt else now + bt
            h = self.node.height
            if h in upgrade_heights:  # H + 1 after an upgrade height H
                next_due = max(next_due, now + float(self.genesis.upgrade_hold_s))
            elif h + 1 in self.node.state.store.upgrades:  # the upgrade height itself
                next_due = max(next_due, now + float(self.genesis.pre_upgrade_hold_s))

    def pause(self) -> None:
        self._resume.clear()

    def resume(self) -> None:
        self._resume.set()


class Simnet(StartStop):
    """In-process simnet on its own background loop thread."""

    def __init__(self, genesis: Genesis | None = None, port: int = 0, *, paused: bool = False) -> None:
        self.genesis = genesis or Genesis()
        ensure_port_free(port, field="simnet port")
        self._port = port
        self._paused = paused
        self._loop: BackgroundLoop | None = None
        self.core: SimnetCore | None = None

    def start(self) -> Self:
        if self._loop is not None:
            raise StartupError("simnet: already started")
        self._loop = BackgroundLoop("simnet")

        async def _start() -> SimnetCore:
            core = SimnetCore(self.genesis, self._port)
            await core.start(paused=self._paused)
            return core

        try:
            self.core = self._loop.run(_start(), timeout_s=30)
        except BaseException:
            self._loop.close()
            self._loop = None
            raise
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        if self.core is not None:
            with contextlib.suppress(Exception):
                self._loop.run(self.core.stop(), timeout_s=15)
        self._loop.close()
        self._loop, self.core = None, None

    def _core(self) -> SimnetCore:
        if self.core is None or self._loop is None:
            raise StartupError("simnet is not running; call start() first")
        return self.core

    @property
    def port(self) -> int:
        return self._core().port

    @property
    def rpc_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{LOOPBACK}:{self.port}/websocket"

    @property
    def height(self) -> int:
        return self._core().node.height

    @property
    def node(self) -> Node:
        return self._core().node

    def pause_blocks(self) -> None:
        """No block is produced after this returns, until resume_blocks()."""
        core = self._core()

        async def _pause() -> None:
            core.pause()

        assert self._loop is not None
        self._loop.run(_pause())

    def resume_blocks(self) -> None:
        core = self._core()

        async def _resume() -> None:
            core.resume()

        assert self._loop is not None
        self._loop.run(_resume())

    def produce_blocks(self, count: int = 1) -> int:
        """Produce `count` blocks now, on the chain's loop (for deterministic tests, usually while paused). Returns the height."""
        if not 1 <= count <= 10_000:
            raise ConfigError(f"produce_blocks: count must be in [1, 10000], got {count}")
        core = self._core()

        async def _produce() -> int:
            for _ in range(count):
                core.node.produce_block()
            return core.node.height

        assert self._loop is not None
        return self._loop.run(_produce())


class SimnetProcess(StartStop):
    """`python -m harness simnet` as a child process (own process group, log file, readiness from its ready line)."""

    def __init__(
        self,
        genesis: Genesis | str | Path | None = None,
        port: int = 0,
        log_dir: str | Path = ".",
        *,
        ready_timeout_s: float = 30,
    ) -> None:
        self.log_dir = Path(log_dir)
        self.genesis = genesis if genesis is not None else Genesis()
        self.requested_port = port
        ensure_port_free(port, field="simnet port")
        self.ready_timeout_s = ready_timeout_s
        self.proc: ManagedProcess | None = None
        self._url = ""
        self.chain_id = ""

    def start(self) -> Self:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        if isinstance(self.genesis, Genesis):
            gpath = self.genesis.write(self.log_dir / "simnet-genesis.json")
        else:
            gpath = Path(self.genesis)
            Genesis.from_file(gpath)  # fail here, with the file's problem, rather than in the child
        argv = [sys.executable, "-m", "harness", "simnet", "--rpc-port", str(self.requested_port), "--genesis", str(gpath)]
        self.proc = ManagedProcess(argv, name="simnet", log_path=self.log_dir / "simnet.log")
        self.proc.start()
        self.proc.wait_ready(
            self._ready, timeout_s=self.ready_timeout_s, what="the 'simnet ready' line", hint="see the log tail above"
        )
        return self

    def _ready(self) -> bool:
        assert self.proc is not None
        m = READY_RE.search(self.proc.output())
        if m:
            self._url, self.chain_id = m[1], m[3]
        return bool(m)

    def stop(self) -> int | None:
        return self.proc.stop() if self.proc is not None else None

    @property
    def rpc_url(self) -> str:
        if not self._url:
            raise StartupError("simnet process is not ready; call start() first")
        return self._url

    @property
    def ws_url(self) -> str:
        return self.rpc_url.replace("http://", "ws://") + "/websocket"
