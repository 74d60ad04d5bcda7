"""Chaos mechanics for scenarios: faults in block windows on the testnet's chaos proxy, one pool connection
targeted (and followed across its redials), waits for the window end and for the pool to heal, and the report.

    with ChaosDriver(testnet) as chaos:                         # proxy reset: history and seeded PRNG restart
        win = chaos.on_pool_connection("eof", blocks=10)       # EOF on every request of one pool connection
        ...drive the upgrade...
        chaos.wait_window_end(win)
        chaos.wait_pool_back()                                 # pool back to N healthy slots
        out = chaos.outcome(traffic=chat)                      # ChaosReport + pool/heal figures; seed printed

Heights: windows are in block heights as the proxy sees them (NewBlock events on the API node's websocket,
`status` answers). The driver also pushes the harness's own view of the height (`proxy.set_height`) whenever it
reads it, so a window still opens and ends while the API node's websocket is down.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self

from harness.chaos import ChaosReport, pool_back_to_n
from harness.chaos.history import ProxiedRequest
from harness.clients.api import ApiClient
from harness.drive.chaos_seeded import replay_decisions, seeded_faults
from harness.errors import ConfigError
from harness.model.apinode.profiles import api_intervals
from harness.util.wait import wait_until

__all__ = ["ChainFaultWindow", "ChaosDriver", "ChaosOutcome", "PoolWatch", "replay_decisions", "seeded_faults"]

FOLLOWS_PER_BLOCK = 3  # redials a broken slot may make per block (healer check + replacement check + a stale ping)
MAX_FOLLOWS = 64  # at most this many redial faults per window


@dataclass
class ChainFaultWindow:
    """A fault (or a followed chain of faults) live from start_height to end_height inclusive."""

    spec: dict[str, Any]
    start_height: int
    end_height: int
    fault_ids: list[int] = field(default_factory=list)
    conn_ids: list[int] = field(default_factory=list)  # connections the faults hit (filled in by the report)
    added_ms: float = 0.0
    ended_ms: float | None = None  # when the driver saw the proxy's height pass end_height

    def describe(self) -> str:
        conns = f" hit connections {self.conn_ids}" if self.conn_ids else ""
        ids = self.fault_ids if len(self.fault_ids) <= 3 else f"{self.fault_ids[0]}..{self.fault_ids[-1]}"
        heights = f"heights {self.start_height}..{self.end_height}"
        return f"{self.spec.get('fault')} target {self.spec.get('target')} {heights}{conns} (faults {ids})"


@dataclass
class ChaosOutcome:
    """The checker figures of one scenario: the proxy-history report plus what the API node said."""

    report: ChaosReport
    heal_interval_ms: float
    pool_back_ms: float | None  # from the last window's end to N healthy slots (None: not awaited)
    api_chain_failures: int  # failed chain-call attempts the API node's pool counted during the scenario
    api_block_errors: int  # blocks whose plan query failed for the API node (it decided on held plans)
    min_pool_healthy: int | None  # fewest healthy slots seen (sampled every 20 ms while the driver ran)
    faults_applied: dict[str, int] = field(default_factory=dict)  # by fault name, e.g. {"ws_drop": 2}
    listener: dict[str, Any] = field(default_factory=dict)  # the API node's websocket listener figures
    windows: list[ChainFaultWindow] = field(default_factory=list)

    def text(self) -> str:
        back = "not awaited" if self.pool_back_ms is None else f"{self.pool_back_ms:.0f} ms after the last window"
        lines = [
            self.report.to_text(),
            f"heal interval: {self.heal_interval_ms:.0f} ms; pool back to N: {back}",
            f"API node: {self.api_chain_failures} failed chain-call attempts, {self.api_block_errors} block(s) with a failed "
            f"plan query, fewest healthy slots seen: {self.min_pool_healthy}",
            f"faults applied: {self.faults_applied or 'none'}; listener: {self.listener}",
        ]
        lines += [f"window: {w.describe()}" for w in self.windows]
        return "\n".join(lines)


class ChaosDriver:
    """Drives the chaos proxy of an embedded (or docker) testnet for one scenario."""

    def __init__(self, testnet: Any, *, progress: Callable[[str], None] | None = None, reset: bool = True) -> None:
        if getattr(testnet, "proxy", None) is None:
            raise ConfigError(
                "chaos: this testnet has no chaos proxy the harness controls; start it with chaos=True (embedded backend)"
            )
        self.tn = testnet
        self.proxy = testnet.proxy
        self.progress = progress or (lambda msg: print(f"[chaos] {msg}"))
        self.windows: list[ChainFaultWindow] = []
        self._min_healthy: int | None = None
        self.watch: PoolWatch | None = None
        self._fault_log: dict[int, dict[str, Any]] = {}  # id -> last JSON seen, kept after faults are removed
        if reset:
            self.proxy.reset()  # this scenario's history only; the PRNG restarts from the seed
        self.height()
        pool = self.pool()
        self._start_failures = int(pool.get("failures", 0))
        self._start_block_errors = int(self.tn.api.debug_state().get("block_errors", 0))
        self.progress(f"seed={self.seed} (replay with --chaos-seed {self.seed}); pool {pool.get('healthy')}/{pool.get('size')}")
        self.watch = PoolWatch(self).__enter__()  # samples the pool's healthy count until close()

    # -- facts ---------------------------------------------------------------------------------------
    @property
    def seed(self) -> int:
        return int(self.proxy.seed)

    @property
    def block_ms(self) -> float:
        return float(self.tn.info.block_time_s) * 1000.0

    def pool(self) -> dict[str, Any]:
        snap = self.tn.api.chain_pool()
        if isinstance(snap.get("healthy"), int):
            self.saw_healthy(snap["healthy"])
        return snap

    def saw_healthy(self, healthy: int) -> None:
        self._min_healthy = healthy if self._min_healthy is None else min(self._min_healthy, healthy)

    @property
    def pool_size(self) -> int:
        return int(self.pool()["size"])

    @property
    def heal_interval_s(self) -> float:
        """The API node's pool health interval (its debug JSON), else the embedded default of 2 blocks."""
        value = self.pool().get("health_interval_s")
        if isinstance(value, int | float) and value > 0:
            return float(value)

        return api_intervals(self.tn.info.block_time_s)["pool_health_s"]

    def height(self) -> int:
        """The chain's height (read directly, not through the proxy), pushed to the proxy as well."""
        h = int(self.tn.rpc.height())
        self.proxy.set_height(h)
        return h

    def pool_connection_ids(self) -> list[int]:
        """Open proxy connections that carried plain chain calls and never a websocket: the API node's pool."""
        open_ids = set(self.proxy.connections())
        http: set[int] = set()
        ws: set[int] = set()
        for r in self.proxy.history():
            (ws if r.kind == "websocket" else http if r.kind == "http" else set()).add(r.conn_id)
        return sorted((http - ws) & open_ids)

    def api_plans(self) -> list[dict[str, Any]]:
        return list(self.tn.api.debug_state().get("upgrade_plans") or [])

    def wait_plan_known(self, height: int, *, timeout_s: float | None = None) -> None:
        """Wait until the API node holds the upgrade plan for `height` (it read the proposal from the chain)."""
        wait_until(
            lambda: any(int(p.get("height", 0)) == height for p in self.api_plans()),
            timeout_s=timeout_s if timeout_s is not None else self._blocks_timeout_s(5),
            what=f"the API node holding the upgrade plan for height {height}",
            evidence=lambda: str(self.tn.api.debug_state()),
        )

    def api_switch(self, version: str) -> dict[str, Any] | None:
        """The API node's switch record to `version` (height, source...), or None if it never switched."""
        for sw in self.tn.api.debug_state().get("switches") or []:
            if sw.get("version") == version:
                return dict(sw)
        return None

    def wait_listener_connected(self, drops_at_least: int = 0, *, timeout_s: float | None = None) -> dict[str, Any]:
        """Wait until the API node's NewBlock listener is connected again after at least `drops_at_least` drops;
        returns its debug figures (connected, connects, drops, caught_up)."""
        return wait_until(
            lambda: (ls := self.tn.api.debug_state()["listener"])["connected"] and ls["drops"] >= drops_at_least and ls,
            timeout_s=timeout_s if timeout_s is not None else self._blocks_timeout_s(5),
            what=f"the API node's websocket listener reconnected after {drops_at_least} drop(s)",
            evidence=lambda: str(self.tn.api.debug_state().get("listener")),
        )

    def settle_mlnodes(self, runner: Any) -> None:
        """Bring every MLNode to INFERENCE as the API node sees it (admin disable/enable, waiting for the reconcile).
        The testnet fixture resets the mocks' state before each test; until the API node's next status poll notices,
        a chat may get 503. Call this before starting traffic that must see no failure."""
        for node in self.tn.mlnodes:
            runner.kick_management(node.id)

    # -- faults --------------------------------------------------------------------------------------
    def add(self, spec: dict[str, Any], *, blocks: int, start_height: int | None = None, start_in: int = 0) -> ChainFaultWindow:
        """Install `spec` (control-API JSON without a height window) for `blocks` blocks from start_height
        (default: the current height + start_in). Other window fields in the spec (max_count...) are kept."""
        if isinstance(blocks, bool) or not isinstance(blocks, int) or blocks < 1:
            raise ConfigError(f"blocks: got {blocks!r}, expected an integer >= 1 (the window's length in blocks)")
        start = start_height if start_height is not None else self.height() + start_in
        end = start + blocks - 1
        full = dict(spec)
        full["window"] = {**dict(spec.get("window") or {}), "start_height": start, "end_height": end}
        win = ChainFaultWindow(full, start, end, added_ms=time.time() * 1000)
        win.fault_ids.append(self.proxy.add_fault(full))
        conn = (full.get("target") or {}).get("connection_id")
        if conn is not None:
            win.conn_ids.append(conn)
        self.windows.append(win)
        self.progress(f"fault {win.describe()}")
        return win

    def add_many(self, specs: list[dict[str, Any]], *, blocks: int, start_in: int = 0) -> list[ChainFaultWindow]:
        """Several faults over the same block window (e.g. seeded_faults())."""
        start = self.height() + start_in
        return [self.add(spec, blocks=blocks, start_height=start) for spec in specs]

    def on_pool_connection(
        self,
        fault: str = "eof",
        *,
        blocks: int,
        index: int = 0,
        follow: bool = True,
        start_in: int = 0,
        params: dict[str, Any] | None = None,
        max_count: int | None = None,
    ) -> ChainFaultWindow:
        """`fault` on every request of one pool connection (the index-th open one, oldest first) for `blocks` blocks.

        A faulted connection is dropped by its client, which redials. With `follow`, every new plain-HTTP connection
        the proxy accepts inside the window is faulted too (faults with nth_connection=1..k, installed up front so no
        redial slips through): that is the broken slot's redials, since a slot is one connection and the healthy
        slots keep theirs. So the slot stays broken for the whole window, as a corrupted Go connection would.
        `max_count` ends the targeted connection's fault after that many hits (1 = exactly one EOF; use follow=False)."""
        ids = wait_until(
            lambda: self.pool_connection_ids(),
            timeout_s=max(5.0, 20 * self.block_ms / 1000),
            what="an open pool connection through the chaos proxy",
            evidence=lambda: f"open connections {self.proxy.connections()}",
        )
        if not 0 <= index < len(ids):
            raise ConfigError(f"index: {index} is out of range; the API node has {len(ids)} open pool connection(s) {ids}")
        spec: dict[str, Any] = {
            "fault": fault,
            "params": dict(params or {}),
            "target": {"connection_id": ids[index], "kind": "http"},
        }
        if max_count is not None:
            spec["window"] = {"max_count": max_count}
        win = self.add(spec, blocks=blocks, start_in=start_in)
        if follow:
            window = {"start_height": win.start_height, "end_height": win.end_height}
            for k in range(1, min(MAX_FOLLOWS, FOLLOWS_PER_BLOCK * blocks + 3) + 1):
                redial = {**spec, "target": {"nth_connection": k, "kind": "http"}, "window": {**spec.get("window", {}), **window}}
                win.fault_ids.append(self.proxy.add_fault(redial))
        return win

    def targeted_connections(self, win: ChainFaultWindow) -> list[int]:
        """Connections a window's faults were applied to, in order."""
        ids = set(win.fault_ids)
        out: list[int] = []
        for r in self.proxy.history():
            if ids & set(r.fault_ids) and r.conn_id not in out:
                out.append(r.conn_id)
        return out

    # -- waits ---------------------------------------------------------------------------------------
    def _blocks_timeout_s(self, blocks: int) -> float:
        return 10.0 + 3 * blocks * self.block_ms / 1000

    def wait_height(self, height: int, *, timeout_s: float | None = None) -> int:
        """Wait until the chain (and so the proxy, which is told) is at `height`."""
        timeout = timeout_s if timeout_s is not None else self._blocks_timeout_s(max(1, height - self.height()))
        return wait_until(lambda: (h := self.height()) >= height and h, timeout_s=timeout, what=f"chain height {height}")

    def wait_window_end(self, win: ChainFaultWindow, *, timeout_s: float | None = None) -> ChainFaultWindow:
        """Wait until the proxy's height passed the window (its faults no longer apply); records ended_ms."""
        self.wait_height(win.end_height + 1, timeout_s=timeout_s)
        wait_until(
            lambda: (self.proxy.height or 0) > win.end_height,
            timeout_s=5.0,
            what=f"the proxy's height past {win.end_height}",
        )
        win.ended_ms = win.ended_ms or time.time() * 1000
        return win

    def wait_pool_back(self, n: int | None = None, *, timeout_s: float | None = None) -> float:
        """Wait until the pool reports N healthy slots (default: its size); returns ms since the last window ended."""
        size = n if n is not None else self.pool_size
        timeout = timeout_s if timeout_s is not None else max(5.0, 10 * self.heal_interval_s)
        wait_until(
            lambda: pool_back_to_n(self.pool(), size),
            timeout_s=timeout,
            what=f"chain pool back to {size} healthy slots",
            evidence=lambda: str(self.pool()),
            hint="the API node's healer replaces dead slots every pool_health_s; check the apinode log",
        )
        ended = [w.ended_ms for w in self.windows if w.ended_ms is not None]
        return max(0.0, time.time() * 1000 - max(ended)) if ended else 0.0

    # -- report --------------------------------------------------------------------------------------
    def history(self) -> list[ProxiedRequest]:
        return self.proxy.history()

    def outcome(
        self, *, traffic: Any = None, pool_back_ms: float | None = None, deadline_ms: float | None = None
    ) -> ChaosOutcome:
        """The checker figures over the proxy's history and the API node's pool, printed with the seed."""
        pool = self.pool()
        state = self.tn.api.debug_state()
        applied: dict[str, int] = {}
        for f in self._snapshot_faults():
            if f.get("applied"):
                applied[f["fault"]] = applied.get(f["fault"], 0) + int(f["applied"])
        report = ChaosReport.build(
            self.history(),
            seed=self.seed,
            deadline_ms=deadline_ms if deadline_ms is not None else 5000.0,
            pool_debug=pool,
            user_failures=None if traffic is None else len(traffic.failures()),
            faults=self._faults_applied(),
        )
        out = ChaosOutcome(
            report=report,
            heal_interval_ms=self.heal_interval_s * 1000,
            pool_back_ms=pool_back_ms,
            api_chain_failures=int(pool.get("failures", 0)) - self._start_failures,
            api_block_errors=int(state.get("block_errors", 0)) - self._start_block_errors,
            min_pool_healthy=self._min_healthy,
            faults_applied=applied,
            listener=dict(state.get("listener") or {}),
            windows=list(self.windows),
        )
        for w in self.windows:
            w.conn_ids = self.targeted_connections(w) or w.conn_ids
        self.progress("report\n" + out.text())
        return out

    def _faults_applied(self) -> list[dict[str, Any]]:
        """Installed faults that applied, plus each window's first (redial followers that never hit are left out)."""
        firsts = {w.fault_ids[0] for w in self.windows if w.fault_ids}
        return [f for f in self._snapshot_faults() if f.get("applied") or f.get("id") in firsts]

    def _snapshot_faults(self) -> list[dict[str, Any]]:
        for f in self.proxy.faults():
            self._fault_log[int(f["id"])] = f
        return [self._fault_log[k] for k in sorted(self._fault_log)]

    def end_all(self) -> None:
        """Remove every fault now (windows still open end here); their figures stay in the report."""
        self._snapshot_faults()
        self.proxy.clear()
        now = time.time() * 1000
        for w in self.windows:
            w.ended_ms = w.ended_ms or now

    # -- lifecycle -----------------------------------------------------------------------------------
    def close(self) -> None:
        if self.watch is not None:
            self.watch.__exit__()
        try:
            self.proxy.clear()
        except Exception as e:  # the testnet may already be torn down
            self.progress(f"could not clear faults: {e}")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PoolWatch:
    """Samples the pool debug JSON every `interval_s` in a thread until stopped (bounded by max_s)."""

    def __init__(self, driver: ChaosDriver, *, interval_s: float = 0.02, max_s: float = 120.0) -> None:

        self.driver = driver
        api = driver.tn.api
        self._own = isinstance(api, ApiClient)  # its own HTTP session: the scenario's threads share the testnet's
        self.api = ApiClient(api.public_url, api.admin_url, timeout_s=2.0) if self._own else api
        self.interval_s = interval_s
        self.max_s = max_s
        self.samples: list[tuple[float, int]] = []  # (unix ms, healthy)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pool-watch", daemon=True)

    def _run(self) -> None:
        end = time.monotonic() + self.max_s
        while not self._stop.is_set() and time.monotonic() < end:
            try:
                healthy = int(self.api.chain_pool()["healthy"])
                self.samples.append((time.time() * 1000, healthy))
                self.driver.saw_healthy(healthy)
            except Exception:  # the API node is restarting or gone: no sample
                pass
            self._stop.wait(self.interval_s)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        if self._own:
            self.api.http.close()

    @property
    def min_healthy(self) -> int | None:
        return min((h for _, h in self.samples), default=None)

    def unhealthy_ms(self, below: int) -> float:
        """Total sampled time with fewer than `below` healthy slots (sum of sample intervals)."""
        total = 0.0
        for (t0, h), (t1, _) in zip(self.samples, self.samples[1:], strict=False):
            if h < below:
                total += t1 - t0
        return total
