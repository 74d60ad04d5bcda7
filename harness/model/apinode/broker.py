"""Node broker: registered MLNodes, their intended/current status, the status worker, reconciliation, PoC phases
and node locking for inference. Upstream call pattern (reference/gonka-mlnode-protocol.md section 3):

    status worker  every status_poll_s, per-call client at the CURRENT version: GET state (+ GET health if INFERENCE)
    reconcile      every reconcile_s and on triggers, through the node's WORKER client (its version is refreshed on a
                   switch: at once in `immediate` mode, on the client-refresh tick in `ticker` mode)
    PoC phases     stop + init/generate; init/validate; pow/validate (per-call client); stop + inference/up
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from harness.model.apinode.config import NodeConfig
from harness.model.apinode.mlnode import MLNodeClient, MLNodeError, init_dto, proof_batch

log = logging.getLogger("harness.model.apinode.broker")

STATE_TO_STATUS = {"INFERENCE": "INFERENCE", "POW": "POC", "TRAIN": "TRAINING", "STOPPED": "STOPPED"}
PHASE_WAIT_BLOCKS = 50  # a PoC phase waits at most this many blocks for its nodes (10 s at 0.2 s blocks)


@dataclass
class NodeState:
    intended_status: str = "INFERENCE"
    current_status: str = "UNKNOWN"
    poc_intended_status: str = "IDLE"
    poc_current_status: str = "IDLE"
    lock_count: int = 0
    failure_reason: str = ""
    status_timestamp: float = 0.0
    enabled: bool = True

    def as_dict(self) -> dict[str, Any]:
        ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.status_timestamp)) if self.status_timestamp else ""
        return {
            "intended_status": self.intended_status,
            "current_status": self.current_status,
            "poc_intended_status": self.poc_intended_status,
            "poc_current_status": self.poc_current_status,
            "lock_count": self.lock_count,
            "failure_reason": self.failure_reason,
            "status_timestamp": ts,
            "admin_state": {"enabled": self.enabled, "epoch": 0},
            "epoch_models": {},
            "epoch_ml_nodes": {},
        }


@dataclass
class NodeEntry:
    config: NodeConfig
    node_num: int
    worker_version: str  # the version baked into the cached worker client
    state: NodeState = field(default_factory=NodeState)
    busy: asyncio.Lock = field(default_factory=asyncio.Lock)  # held while a worker command runs ("reconciling")
    switching: bool = False  # a version switch is bringing this node up on the new version; status polls wait

    def as_dict(self) -> dict[str, Any]:
        return {"node": {**self.config.as_dict(), "node_num": self.node_num, "version": ""}, "state": self.state.as_dict()}


class Broker:
    def __init__(
        self,
        *,
        current_version: Callable[[], str],
        status_poll_s: float,
        reconcile_s: float,
        poc_every_blocks: int,
        callback_url: Callable[[], str],
        status_poll: str = "fresh",
    ) -> None:
        self.current_version = current_version
        self.status_poll = status_poll  # "fresh": per-call client on the current version; "worker": the worker client
        self.status_poll_s = status_poll_s
        self.reconcile_s = reconcile_s
        self.poc_every_blocks = poc_every_blocks
        self.callback_url = callback_url
        self.nodes: dict[str, NodeEntry] = {}
        self.stops_sent: list[dict[str, Any]] = []  # old-version stops: {node_id, version, at_ms, status}
        self.poc_phase = "IDLE"
        self._node_nums = 0
        self._session: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._bg: set[asyncio.Task[Any]] = set()
        self._reconcile_now = asyncio.Event()
        self._status_now = asyncio.Event()
        self.running = False

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64))
        return self._session

    def register(self, cfg: NodeConfig) -> NodeEntry:
        self._node_nums += 1
        entry = NodeEntry(cfg, self._node_nums, worker_version=self.current_version())
        self.nodes[cfg.id] = entry
        self.trigger_status()
        return entry

    def remove(self, node_id: str) -> NodeEntry | None:
        return self.nodes.pop(node_id, None)

    async def start(self) -> None:
        """First status round (current version), then the periodic workers."""
        self.running = True
        await self.status_round()
        self._tasks = [
            asyncio.create_task(
                self._loop(self.status_round, lambda: self.status_poll_s, self._status_now), name="status-worker"
            ),
            asyncio.create_task(
                self._loop(self.reconcile_round, lambda: self.reconcile_s, self._reconcile_now), name="reconciler"
            ),
        ]
        self.trigger_reconcile()

    async def stop(self) -> None:
        self.running = False
        for t in [*self._tasks, *self._bg]:
            t.cancel()
        await asyncio.gather(*self._tasks, *self._bg, return_exceptions=True)
        self._tasks.clear()
        if self._session is not None:
            await self._session.close()

    async def _loop(self, body: Callable[[], Any], period: Callable[[], float], trigger: asyncio.Event) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(trigger.wait(), timeout=period())  # period or an explicit trigger
            trigger.clear()
            try:
                await body()
            except Exception:
                log.exception("%s round failed", asyncio.current_task().get_name())  # type: ignore[union-attr]

    def trigger_reconcile(self) -> None:
        self._reconcile_now.set()

    def trigger_status(self) -> None:
        self._status_now.set()

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        t = asyncio.create_task(coro)
        self._bg.add(t)
        t.add_done_callback(self._bg.discard)
        return t

    # -- clients ---------------------------------------------------------------------------
    def fresh_client(self, entry: NodeEntry) -> MLNodeClient:
        """Per-call client: always the current version."""
        return MLNodeClient(entry.config, self.current_version(), self.session)

    def worker_client(self, entry: NodeEntry) -> MLNodeClient:
        return MLNodeClient(entry.config, entry.worker_version, self.session)

    async def refresh_clients(
        self,
        new_version: str,
        *,
        old_version: str,
        stop_old: bool,
        bring_up: str | None = None,
        sent: frozenset[str] = frozenset(),
        record_stop: Callable[[str, bool], None] | None = None,
    ) -> int:
        """Swap every worker client to new_version; with stop_old send one POST /<old_version>/api/v1/stop per node
        except the nodes in `sent` (sent before a restart). `record_stop(node id, True)` runs right before a node's
        stop is sent (the caller writes it ahead), `record_stop(node id, False)` when it could not be delivered.
        bring_up "at_switch" (the reference switch): bring each node up on the new version right after its old
        version stopped (stop the old version, then the new one serves), instead of leaving it to the next status poll
        to find the new version STOPPED; status polls skip the node meanwhile, chats keep flowing. "next_tick" (a bug
        to catch): the node is STOPPED once its old version stopped and comes up on the new one a reconcile interval
        later; chats are refused meanwhile. "before_stop" (a bug on one GPU): the new version's inference/up first, then
        the old version's stop. None: left to the status poll and reconcile. Returns the stops sent."""
        changing = stop_old and bool(old_version) and old_version != new_version
        entries = list(self.nodes.values())
        for entry in entries:
            entry.worker_version = new_version
            entry.switching = bring_up is not None

        async def switch(entry: NodeEntry) -> None:
            try:
                if bring_up == "before_stop":
                    await self._bring_up(entry, new_version)
                if changing and entry.config.id in sent:
                    log.info("stop of %s on %s was sent before a restart; not sent again", old_version, entry.config.id)
                elif changing:
                    if record_stop is not None:
                        record_stop(entry.config.id, True)
                    if not await self._stop_old(entry, old_version) and record_stop is not None:
                        record_stop(entry.config.id, False)
                if bring_up == "next_tick" and self._target(entry)[0] == "INFERENCE":
                    entry.state.current_status = "STOPPED"  # its serving version is gone; the next tick brings it up
                    await asyncio.sleep(self.reconcile_s)  # the reconciler's next tick (a timer, as upstream's loop)
                if bring_up in ("at_switch", "next_tick"):
                    await self._bring_up(entry, new_version)
            finally:
                entry.switching = False

        if bring_up == "next_tick":  # the bring-up waits for a tick: do not hold up the block being processed
            for e in entries:
                self.spawn(switch(e))
            return len(entries) if changing else 0
        await asyncio.gather(*(switch(e) for e in entries))
        return len(entries) if changing else 0

    async def _bring_up(self, entry: NodeEntry, version: str) -> None:
        """The node on `version` (its worker client), when it should serve and no command runs on it: not under
        entry.busy, as a busy node counts as reconciling and would get no chats meanwhile. A STOPPED new version is
        brought up without a stop first (that stop would read as the next hop's old-version stop). A failure leaves
        it to the status worker and reconcile."""
        if self._target(entry)[0] != "INFERENCE" or entry.busy.locked():
            return
        try:
            await self._inference_up(self.worker_client(entry), entry, stop_stopped=False)
            entry.state.current_status = "INFERENCE"
        except MLNodeError as e:
            log.warning("bringing %s up on %s failed: %s", entry.config.id, version, e)

    async def _stop_old(self, entry: NodeEntry, old_version: str) -> bool:
        """POST /<old>/api/v1/stop; whether the MLNode answered (any status: upstream ignores it)."""
        client = MLNodeClient(entry.config, old_version, self.session, timeout_s=10.0)
        rec: dict[str, Any] = {"node_id": entry.config.id, "version": old_version, "at_ms": int(time.time() * 1000)}
        try:
            rec["status"] = await client.stop()
        except MLNodeError as e:  # upstream only logs it
            rec["error"] = str(e)
            log.warning("stop of old version %s on %s failed: %s", old_version, entry.config.id, e)
        self.stops_sent.append(rec)
        return "status" in rec

    # -- status worker ---------------------------------------------------------------------
    async def status_round(self) -> None:
        await asyncio.gather(
            *(self.query_status(e) for e in list(self.nodes.values()) if not e.busy.locked() and not e.switching)
        )

    async def query_status(self, entry: NodeEntry) -> None:
        client = self.worker_client(entry) if self.status_poll == "worker" else self.fresh_client(entry)
        st = entry.state
        try:
            state = await client.node_state()
            status = STATE_TO_STATUS.get(state, "UNKNOWN")
            if status == "INFERENCE":
                await client.inference_health()
            st.failure_reason = ""
        except MLNodeError as e:
            status, st.failure_reason = "FAILED", str(e)
        if entry.busy.locked() or entry.switching:  # a command or a switch started meanwhile; its result wins
            return
        st.current_status, st.status_timestamp = status, time.time()
        if self._needs_work(entry):
            self.trigger_reconcile()

    # -- reconcile -------------------------------------------------------------------------
    def _target(self, entry: NodeEntry) -> tuple[str, str]:
        if not entry.state.enabled:
            return "STOPPED", "IDLE"
        return entry.state.intended_status, entry.state.poc_intended_status

    def _needs_work(self, entry: NodeEntry) -> bool:
        status, poc = self._target(entry)
        st = entry.state
        return st.current_status != status or (status == "POC" and st.poc_current_status != poc)

    async def reconcile_round(self) -> None:
        await asyncio.gather(
            *(self.reconcile_node(e) for e in list(self.nodes.values()) if self._needs_work(e) and not e.switching)
        )

    async def reconcile_node(self, entry: NodeEntry) -> None:
        if entry.busy.locked() or entry.switching:
            return
        async with entry.busy:
            status, poc = self._target(entry)
            client = self.worker_client(entry)
            st = entry.state
            try:
                if status == "STOPPED":
                    await client.stop()
                elif status == "INFERENCE":
                    await self._inference_up(client, entry)
                elif status == "POC":
                    await self._poc_command(client, entry, poc)
                st.current_status, st.poc_current_status = status, poc if status == "POC" else "IDLE"
                st.failure_reason, st.status_timestamp = "", time.time()
            except MLNodeError as e:
                st.current_status, st.failure_reason = "FAILED", str(e)
                log.warning("reconcile %s -> %s failed: %s", entry.config.id, status, e)

    async def _inference_up(self, client: MLNodeClient, entry: NodeEntry, *, stop_stopped: bool = True) -> None:
        """state, then stop + inference/up (upstream's InferenceUp). `stop_stopped=False` (the switch's bring-up of
        the version just switched to): no stop when it reports STOPPED, since a stop of that version right after the
        switch would be taken for its old-version stop should the next upgrade come in the next block."""
        state = await client.node_state()
        if state == "INFERENCE":
            await client.inference_health()
            return
        if stop_stopped or state != "STOPPED":
            await client.stop()
        model, spec = next(iter(entry.config.models.items()), ("", {"args": []}))
        await client.inference_up(model, spec.get("args", []))

    async def _poc_command(self, client: MLNodeClient, entry: NodeEntry, poc: str) -> None:
        state = await client.node_state()
        want = "GENERATING" if poc == "GENERATING" else "VALIDATING"
        if state == "POW" and await client.pow_status() == want:
            return
        dto = init_dto(
            block_hash=self._block_hash, block_height=self._block_height, node_num=entry.node_num,
            node_count=len(self.nodes), callback_url=self.callback_url(),
        )  # fmt: skip
        if poc == "GENERATING":
            if state != "STOPPED":
                await client.stop()
            await client.init_generate(dto)
        else:
            if state not in ("STOPPED", "POW"):
                await client.stop()
            await client.init_validate(dto)

    # -- PoC phases ------------------------------------------------------------------------
    _block_hash = ""
    _block_height = 0

    _poc_requested = False
    _phase_waited = 0  # blocks the current PoC phase waited for its nodes

    def request_poc_cycle(self) -> None:
        """Run one PoC cycle starting at the next block (admin debug trigger), whatever poc_every_blocks says."""
        self._poc_requested = True

    async def on_block(self, height: int, block_hash: str) -> None:
        """One PoC phase per block: generate, validate init, validate batches, back to inference. A cycle starts
        every poc_every_blocks blocks, or at the next block after request_poc_cycle(). A phase is left only once
        every enabled node reached it (or failed), for at most PHASE_WAIT_BLOCKS more blocks: a reconcile that had
        not run yet when the next block came skipped `pow/init/generate` altogether (seen on a loaded machine)."""
        self._block_height, self._block_hash = height, block_hash
        if height <= 0:
            return
        if self.poc_phase in ("GENERATING", "VALIDATING") and not self._phase_reached(self.poc_phase):
            self._phase_waited += 1
            if self._phase_waited <= PHASE_WAIT_BLOCKS:
                self.trigger_reconcile()
                return
            log.warning("PoC phase %s: nodes did not reach it in %d blocks; moving on", self.poc_phase, PHASE_WAIT_BLOCKS)
        self._phase_waited = 0
        if self.poc_phase == "IDLE":
            periodic = self.poc_every_blocks > 0 and height % self.poc_every_blocks == 0
            if not (periodic or self._poc_requested):
                return
            self._poc_requested = False
            self._set_intended("POC", "GENERATING")
            self.poc_phase = "GENERATING"
        elif self.poc_phase == "GENERATING":
            self._set_intended("POC", "VALIDATING")
            self.poc_phase = "VALIDATING"
        elif self.poc_phase == "VALIDATING":
            self.poc_phase = "VALIDATE_BATCHES"
            self.spawn(self.validate_batches(height, block_hash))
            return
        else:  # VALIDATE_BATCHES
            self._set_intended("INFERENCE", "IDLE")
            self.poc_phase = "IDLE"
        self.trigger_reconcile()

    def _phase_reached(self, poc: str) -> bool:
        """Every enabled node runs PoC phase `poc` (a FAILED node counts as done: it will not get there)."""
        return all(
            e.state.current_status == "FAILED" or (e.state.current_status == "POC" and e.state.poc_current_status == poc)
            for e in self.nodes.values()
            if e.state.enabled
        )

    def _set_intended(self, status: str, poc: str) -> None:
        for e in self.nodes.values():
            e.state.intended_status, e.state.poc_intended_status = status, poc

    async def validate_batches(self, height: int, block_hash: str) -> None:
        """POST pow/validate with one ProofBatch per node, through a per-call client (current version)."""
        for entry in [e for e in self.nodes.values() if e.state.enabled]:
            try:
                await self.fresh_client(entry).validate_batch(
                    proof_batch(block_hash=block_hash, block_height=height, node_num=entry.node_num)
                )
            except MLNodeError as e:
                log.warning("pow/validate on %s failed: %s", entry.config.id, e)

    # -- locking ---------------------------------------------------------------------------
    def lock_node(self, model: str | None) -> NodeEntry | None:
        """Least-locked node that is enabled, INFERENCE, not reconciling, below max_concurrent and serves the model."""
        best: NodeEntry | None = None
        for e in self.nodes.values():
            st = e.state
            if not st.enabled or st.current_status != "INFERENCE" or e.busy.locked():
                continue
            if st.lock_count >= e.config.max_concurrent or (model and model not in e.config.models):
                continue
            if best is None or st.lock_count < best.state.lock_count:
                best = e
        if best is not None:
            best.state.lock_count += 1
        return best

    def unlock_node(self, entry: NodeEntry) -> None:
        entry.state.lock_count = max(0, entry.state.lock_count - 1)

    def why_unavailable(self, model: str | None) -> str:
        if not self.nodes:
            return "no MLNodes are registered (POST /admin/v1/nodes)"
        parts = [
            f"{e.config.id}: enabled={e.state.enabled} status={e.state.current_status}"
            + (f" ({e.state.failure_reason})" if e.state.failure_reason else "")
            + f" locks={e.state.lock_count}/{e.config.max_concurrent} serves_model={not model or model in e.config.models}"
            for e in self.nodes.values()
        ]
        return "; ".join(parts)
