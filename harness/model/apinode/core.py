"""ApiNodeCore: the async API node. Wires config, persisted version state, the chain pool, the NewBlock listener,
the upgrade logic and the broker together, and serves the HTTP apps.

Start-up: load state -> pool (degraded is fine) -> HTTP servers (ready) -> in the background: wait for the chain,
sync current_node_version from MLNodeVersion, first status round on the current version, then the listener
(catching up from the persisted height), the broker's workers and, in ticker mode, the client-refresh ticker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from typing import Any

from aiohttp import web

import harness.proto as p
from harness.errors import ChainError
from harness.model.apinode import server
from harness.model.apinode.broker import Broker, NodeEntry
from harness.model.apinode.chainpool import ChainPool
from harness.model.apinode.config import ApiNodeConfig, NodeConfig
from harness.model.apinode.listener import BlockListener
from harness.model.apinode.state import StateStore, SwitchRecord, VersionState
from harness.model.apinode.upgrade import Plan, decide_switch, merge_plans, plan_from_upgrade_info
from harness.validate import shown
from harness.versions import is_version, parse_version

log = logging.getLogger("harness.model.apinode")


class ApiNodeCore:
    def __init__(self, cfg: ApiNodeConfig) -> None:
        self.cfg = cfg
        self.profile = cfg.profile
        self.store = StateStore(cfg.state_path())
        self.state: VersionState = self.store.load(cfg)
        self.pool = ChainPool(
            cfg.chain_url,
            size=self.profile.pool_size,
            healing=self.profile.healing,
            health_interval_s=cfg.intervals.pool_health_s,
            call_timeout_s=cfg.intervals.chain_call_timeout_s,
            ping_timeout_s=cfg.intervals.chain_ping_timeout_s,
        )
        self.broker = Broker(
            current_version=lambda: self.state.current_node_version,
            status_poll_s=cfg.intervals.status_poll_s,
            reconcile_s=cfg.intervals.reconcile_s,
            poc_every_blocks=cfg.intervals.poc_every_blocks,
            callback_url=lambda: self.callback_url_for_mlnode,
            status_poll=self.profile.status_poll,
        )
        self.listener: BlockListener | None = None
        self.poc_batches: dict[str, list[dict[str, Any]]] = {"generated": [], "validated": []}
        self.ports: dict[str, int] = {}
        self.synced = False
        self.sync_error = ""
        self.block_errors = 0
        self.refused_versions = 0
        self._refused_seen: set[str] = set()
        self._runners: list[web.AppRunner] = []
        self._tasks: list[asyncio.Task[Any]] = []
        self._state_lock = asyncio.Lock()
        self._refresh_lock = asyncio.Lock()
        self._rng = random.Random()  # the reaction knob's jitter
        self._backlog: asyncio.Queue[tuple[float, list[int], str]] = asyncio.Queue()  # blocks waiting for the reaction
        self._reactor: asyncio.Task[None] | None = None

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        for node in self.state.nodes if self.state.nodes is not None else self.cfg.nodes:
            self.broker.register(node)
        await self.pool.start()
        try:
            for name, app, port in (
                ("public", server.public_app(self), self.cfg.api.public_server_port),
                ("admin", server.admin_app(self), self.cfg.api.admin_server_port),
                ("callback", server.callback_app(self), self.cfg.api.ml_server_port),
            ):
                runner, actual = await server.serve(app, port)
                self._runners.append(runner)
                self.ports[name] = actual
        except BaseException:
            await self.stop()
            raise
        self._save()
        self._tasks.append(asyncio.create_task(self._run_after_sync(), name="startup-sync"))

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self.broker.stop()
        for r in self._runners:
            await r.cleanup()
        self._runners.clear()
        await self.pool.close()

    @property
    def callback_url_for_mlnode(self) -> str:
        return self.cfg.api.poc_callback_url or f"http://127.0.0.1:{self.ports.get('callback', 0)}"

    def urls(self) -> dict[str, str]:
        return {k: f"http://127.0.0.1:{v}" for k, v in self.ports.items()}

    def ready_line(self) -> str:
        u = self.urls()
        return (
            f"apinode ready public={u['public']} admin={u['admin']} callback={u['callback']} "
            f"version={self.state.current_node_version} profile={self.profile.name}"
        )

    def ready_info(self) -> dict[str, Any]:
        return {**self.urls(), "ports": dict(self.ports), "version": self.state.current_node_version,
                "profile": self.profile.name, "state_file": str(self.store.path)}  # fmt: skip

    # -- start-up sync ---------------------------------------------------------------------
    async def _run_after_sync(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.cfg.intervals.startup_sync_timeout_s
        while not self.synced and loop.time() < deadline:
            try:
                await self.sync_version_from_chain()
            except ChainError as e:
                self.sync_error = str(e)
                await asyncio.sleep(0.1)  # retry period while the chain is not answering yet
        if not self.synced:
            log.warning("chain did not answer within %.1f s (%s); continuing on %s", self.cfg.intervals.startup_sync_timeout_s,
                        self.sync_error, self.state.current_node_version)  # fmt: skip
        await self.broker.start()  # first status round: current version
        last = self.state.last_used_version
        cur = self.state.current_node_version
        if last != cur and self.profile.client_refresh == "immediate":
            await self._refresh_clients(cur)
        elif not last:
            self.state.last_used_version = cur
            self._save()
        self.listener = BlockListener(
            self.cfg.ws_url,
            on_heights=self.on_heights,
            latest_height=self.pool.latest_height,
            start_height=self.state.current_height,
        )
        self._tasks.append(asyncio.create_task(self.listener.run(), name="block-listener"))
        if self.profile.client_refresh == "ticker":
            self._tasks.append(asyncio.create_task(self._refresh_ticker(), name="client-refresh"))

    async def sync_version_from_chain(self) -> None:
        """Upstream SyncVersionFromChain: take the chain's MLNodeVersion when it differs (empty -> keep ours)."""
        resp = await self.pool.abci_query(p.Q_MLNODE_VERSION)
        chain_version = resp.mlnode_version.current_version
        self.synced = True
        if chain_version and not is_version(chain_version):
            self._refuse_version(chain_version, "MLNodeVersion")
        elif chain_version and chain_version != self.state.current_node_version:
            async with self._state_lock:
                self._record_switch(chain_version, self.state.current_height, 0, "chain-sync")
                self._save()
            log.info("synced MLNode version from chain: %s", chain_version)

    # -- blocks ----------------------------------------------------------------------------
    async def _listed_plans(self) -> list[Plan] | None:
        try:
            resp = await self.pool.abci_query(p.Q_PARTIAL_UPGRADE_ALL)
            plans = []
            for u in resp.partialUpgrade:
                if not is_version(u.node_version):
                    self._refuse_version(u.node_version, f"partial upgrade at height {u.height}")
                    continue
                plans.append(Plan(int(u.height), u.node_version, (u.name or f"partial-upgrade-{u.height}")[:256]))
            with contextlib.suppress(ChainError, KeyError):
                cp = await self.pool.abci_query(p.Q_UPGRADE_CURRENT_PLAN)
                if cp.HasField("plan") and cp.plan.name:
                    full = plan_from_upgrade_info(cp.plan.name, int(cp.plan.height), cp.plan.info)
                    if full:
                        plans.append(full)
            return plans
        except ChainError as e:
            self.block_errors += 1
            log.warning("partial-upgrade query failed (%s); deciding on the plans already held", e)
            return None

    async def on_heights(self, heights: list[int], block_hash: str) -> None:
        """Blocks as the listener hands them over: processed at once, or, with the profile's reaction time, each
        that long after it arrived (a queue keeps them in order; a slow node lags, it does not fall further behind)."""
        prof = self.profile
        if not (prof.reaction_ms or prof.reaction_jitter_ms):
            await self.process_heights(heights, block_hash)
            return
        delay_s = (prof.reaction_ms + self._rng.uniform(0, prof.reaction_jitter_ms)) / 1000
        self._backlog.put_nowait((time.monotonic() + delay_s, heights, block_hash))
        if self._reactor is None:
            self._reactor = asyncio.create_task(self._react(), name="slow-reaction")
            self._tasks.append(self._reactor)

    async def _react(self) -> None:
        while True:
            due, heights, block_hash = await self._backlog.get()
            await asyncio.sleep(max(0.0, due - time.monotonic()))  # the modelled processing time, not a wait
            await self.process_heights(heights, block_hash)

    async def process_heights(self, heights: list[int], block_hash: str) -> None:
        """Process heights in order: merge plans, switch per profile, persist, refresh clients, PoC phases."""
        listed = await self._listed_plans()
        chain_version = await self._chain_version() if len(heights) > 1 else None
        prof = self.profile
        switched_to: str | None = None
        async with self._state_lock:
            st = self.state
            if listed is not None:
                fresh = [pl for pl in listed if pl.height > st.applied_plan_height]
                st.upgrade_plans = merge_plans(st.upgrade_plans, fresh, mode=prof.plan_merge)
            for h in heights:
                step = decide_switch(st.upgrade_plans, height=h, current=st.current_node_version,
                                     switch_offset=prof.switch_offset, applied_height=st.applied_plan_height)  # fmt: skip
                st.upgrade_plans, st.applied_plan_height = step.pending, step.applied_height
                for sw in step.switches:
                    self._record_switch(sw.version, h, sw.plan.height, "block")
                    switched_to = sw.version
                st.current_height = h
            if chain_version and parse_version(chain_version) > parse_version(st.current_node_version):
                # a gap hid the plan (its record is gone): the chain's version is authoritative, never a rollback
                self._record_switch(chain_version, heights[-1], 0, "catch-up-sync")
                switched_to = chain_version
            self._save()
        if switched_to is not None and prof.client_refresh == "immediate":
            await self._refresh_clients(switched_to)
        if switched_to is not None and prof.bring_up != "next_tick":
            self.broker.trigger_status()
        try:
            await self.broker.on_block(heights[-1], block_hash)
        except Exception:
            log.exception("PoC phase handling failed at height %d", heights[-1])

    async def _chain_version(self) -> str | None:
        try:
            v = (await self.pool.abci_query(p.Q_MLNODE_VERSION)).mlnode_version.current_version
        except ChainError as e:
            log.warning("MLNodeVersion query after a gap failed: %s", e)
            return None
        if not is_version(v):
            self._refuse_version(v, "MLNodeVersion")
            return None
        return v

    def _refuse_version(self, version: str, where: str) -> None:
        """A version from the chain that is not vMAJOR.MINOR.PATCH is never switched to, persisted or put in a URL;
        it is logged once (shortened) and counted."""
        self.refused_versions += 1
        if version not in self._refused_seen and len(self._refused_seen) < 64:
            self._refused_seen.add(version)
            log.warning("ignoring %s: MLNode version %s is not vMAJOR.MINOR.PATCH", where, shown(version))

    def _record_switch(self, version: str, height: int, plan_height: int, source: str) -> None:
        if not is_version(version):  # the last line of defence: every path to a switch checks before
            self._refuse_version(version, f"a switch at height {height}")
            return
        st = self.state
        st.switches.append(SwitchRecord(version, st.current_node_version, height, int(time.time() * 1000), plan_height, source))
        st.current_node_version = version
        log.info("switched MLNode version %s -> %s at height %d (%s)", st.switches[-1].previous, version, height, source)

    async def _refresh_clients(self, version: str) -> None:
        """Swap worker clients to `version`, stop the old version (profile permitting), set last_used_version.
        Each node's stop is written ahead (`old_stops_sent`, persisted before it is sent; removed again when it could
        not be delivered), so a restart in the middle of the refresh never sends it a second time. The price: a crash
        after that write and before the request left the process (no I/O in between but the connect) loses it."""
        async with self._refresh_lock:
            old = self.state.last_used_version
            if old == version and all(e.worker_version == version for e in self.broker.nodes.values()):
                return
            await self.broker.refresh_clients(
                version,
                old_version=old,
                stop_old=self.profile.stop_old,
                # the reference switch brings the new version up; PR #228's ticker leaves it to the status poll
                bring_up=self.profile.bring_up if self.profile.client_refresh == "immediate" else None,
                sent=frozenset(n for n, v in self.state.old_stops_sent.items() if v == old),
                record_stop=lambda node_id, sending: self._record_stop(node_id, old, sending),
            )
            async with self._state_lock:
                self.state.last_used_version = version
                self.state.old_stops_sent = {}
                self._save()

    def _record_stop(self, node_id: str, old: str, sending: bool) -> None:
        if sending:
            self.state.old_stops_sent[node_id] = old
        else:
            self.state.old_stops_sent.pop(node_id, None)
        self._save()

    async def _refresh_ticker(self) -> None:
        """PR #228's reconcilerLoop tick: refresh worker clients when current != last_used."""
        while True:
            await asyncio.sleep(self.cfg.intervals.client_refresh_s)  # the ticker's period
            cur, last = self.state.current_node_version, self.state.last_used_version
            if not last:
                async with self._state_lock:
                    self.state.last_used_version = cur
                    self._save()
            elif cur != last:
                await self._refresh_clients(cur)

    def _save(self) -> None:
        self.store.save(self.state)

    # -- admin -----------------------------------------------------------------------------
    async def add_node(self, node: NodeConfig) -> NodeEntry:
        entry = self.broker.register(node)
        self._persist_nodes()
        self.broker.trigger_reconcile()
        return entry

    async def delete_node(self, node_id: str) -> NodeEntry | None:
        entry = self.broker.remove(node_id)
        self._persist_nodes()
        return entry

    def set_enabled(self, node_id: str, enabled: bool) -> None:
        self.broker.nodes[node_id].state.enabled = enabled
        self.broker.trigger_reconcile()

    def _persist_nodes(self) -> None:
        self.state.nodes = [e.config for e in self.broker.nodes.values()]
        self._save()

    def debug_state(self) -> dict[str, Any]:
        st = self.state
        return {
            "current_node_version": st.current_node_version,
            "last_used_version": st.last_used_version,
            "current_height": st.current_height,
            "applied_plan_height": st.applied_plan_height,
            "upgrade_plans": [pl.as_dict() for pl in st.upgrade_plans],
            "switches": [s.as_dict() for s in st.switches],
            "profile": {"name": self.profile.name, **self.profile.knobs()},
            "synced": self.synced,
            "sync_error": self.sync_error,
            "listener": {
                "connected": bool(self.listener and self.listener.connected),
                "connects": self.listener.connects if self.listener else 0,
                "drops": self.listener.drops if self.listener else 0,
                "caught_up": self.listener.caught_up if self.listener else 0,
            },
            "worker_versions": {e.config.id: e.worker_version for e in self.broker.nodes.values()},
            "old_version_stops": list(self.broker.stops_sent),
            "old_stops_sent": dict(st.old_stops_sent),
            "poc_phase": self.broker.poc_phase,
            "block_errors": self.block_errors,
            "refused_versions": self.refused_versions,
            "state_file": str(self.store.path),
        }
