"""Embedded backend: simnet, WireMock MLNodes (optionally behind nginx), a chaos proxy and the reference
API node, all on 127.0.0.1 with allocated ports, supervised, logs captured, torn down on any exit.

    with EmbeddedTestnet(RunOptions(), workdir) as tn:
        tn.chain.mlnode_version()        # "v0.3.8"
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from harness.audit.contracts import PRE_UPGRADE_HOLD_S, UPGRADE_HOLD_S
from harness.backends.common import write_reference_api_config
from harness.backends.contract import BaseTestnet, Capability, Endpoints, NodeSpec, TestnetInfo
from harness.backends.mocks import LocalMocks
from harness.chain.keys import DEV_MNEMONIC
from harness.options import RunOptions
from harness.util.ports import free_port


def api_intervals(block_time_s: float, profile: str) -> dict[str, float]:
    """API-node intervals scaled to the block time (the model runs fast blocks; every interval is in blocks)."""
    bt = max(block_time_s, 0.05)
    return {
        "status_poll_s": round(2 * bt, 3),
        "reconcile_s": round(2 * bt, 3),
        "client_refresh_s": round(10 * bt, 3),  # pr228's 30 s ticker, scaled: 10 blocks
        "pool_health_s": round(2 * bt, 3),
        "poc_every_blocks": 0,
    }


class EmbeddedTestnet(BaseTestnet):
    """Implements harness.backends.contract.Testnet with our own processes: the model chain and API node."""

    capabilities = frozenset(Capability) - {Capability.CHAIN_POC}

    def __init__(
        self,
        opts: RunOptions,
        workdir: Path,
        *,
        nodes: tuple[NodeSpec, ...] = (NodeSpec("mlnode-1"),),
        chaos: bool = True,
        voting_period_blocks: int = 3,
        api_overrides: dict | None = None,
        api_intervals: dict | None = None,
    ) -> None:
        self.opts = opts
        self.workdir = Path(workdir)
        self.node_specs = nodes
        self.use_chaos = chaos
        self.voting_period_blocks = voting_period_blocks
        self.api_overrides = dict(api_overrides or {})  # profile knob overrides, e.g. {"stop_old": False}
        self.api_interval_overrides = dict(api_intervals or {})  # e.g. {"client_refresh_s": 30}
        super().__init__(
            TestnetInfo(
                backend="embedded",
                chain_id="gonka-testnet",
                block_time_s=opts.block_time_s,
                start_version=opts.start_version,
                api_profile=opts.api_profile,
                topology=opts.topology,
                validator_mnemonics=[DEV_MNEMONIC],
                api_kind="model",
                api_under_test=f"model apinode, profile {opts.api_profile}",
                chain_under_test="model simnet",
            )
        )
        self.mocks: LocalMocks | None = None
        self.simnet = None
        self.proxy = None
        self.apinode = None

    # -- lifecycle --------------------------------------------------------------------------
    def _start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._start_mocks()
        self._start_chain_and_api()

    def _teardown_steps(self) -> tuple:
        return (self._stop_chain_and_api, self._stop_mocks)

    # -- MLNode mocks ------------------------------------------------------------------------
    def _start_mocks(self) -> None:
        self.mocks = LocalMocks(self.node_specs, self.opts.versions, topology=self.opts.topology, workdir=self.workdir)
        self.mocks.start()
        self.mlnodes = self.mocks.mlnodes

    def _stop_mocks(self) -> None:
        if self.mocks is not None:
            self.mocks.stop()

    # -- chain + proxy + API node ------------------------------------------------------------
    def _start_chain_and_api(self) -> None:
        from harness.chain import ChainClient
        from harness.cometbft import BlockTimeline, RpcClient
        from harness.drive.api import ApiClient
        from harness.model.apinode import ApiNodeProcess
        from harness.model.simnet import Genesis, SimnetProcess

        logs = self.workdir / "logs"
        genesis = Genesis(
            block_time_s=self.opts.block_time_s,
            upgrade_hold_s=UPGRADE_HOLD_S,  # "switched at H + 1" is caught by the audit (contracts.py)
            pre_upgrade_hold_s=PRE_UPGRADE_HOLD_S,  # and "switched at H - 1" on a loaded machine
            voting_period_blocks=self.voting_period_blocks,
            initial_mlnode_version=self.opts.start_version,
            chain_id=self.info.chain_id,
        )
        # The API node needs no running chain to start (it retries), so simnet and the API node start
        # concurrently; the chain's port is allocated up front so the proxy and the API config can name it.
        rpc_url = f"http://127.0.0.1:{free_port()}"
        self.simnet = SimnetProcess(genesis, port=int(rpc_url.rsplit(":", 1)[1]), log_dir=logs)
        api_chain = rpc_url
        if self.use_chaos:
            from harness.chaos import ChaosProxy

            self.proxy = ChaosProxy(rpc_url, seed=self.opts.chaos_seed or 0, control_port=0)
            self.proxy.start()
            api_chain = self.proxy.url
        self.apinode = ApiNodeProcess(self._write_api_config(api_chain), log_dir=logs)
        with ThreadPoolExecutor(2, thread_name_prefix="testnet-start") as pool:
            started = [pool.submit(self.simnet.start), pool.submit(self.apinode.start)]
            for f in started:
                f.result()  # the first failure is raised; close() stops whatever did start
        self.rpc = RpcClient(rpc_url)
        self.rpc.wait_for_height(1, timeout_s=15)
        self.chain = ChainClient(rpc_url)
        self.timeline = BlockTimeline(rpc_url.replace("http://", "ws://") + "/websocket")
        self.timeline.start()
        self.api = ApiClient(self.apinode.public_url, self.apinode.admin_url)
        self.endpoints = Endpoints(
            chain_rpc=rpc_url,
            api_chain_rpc=api_chain,
            api_public=self.apinode.public_url,
            api_admin=self.apinode.admin_url,
            chaos_control=self.proxy.control_url if self.proxy else None,
            nginx=self.mocks.nginx[0].url if self.mocks and self.mocks.nginx else None,
        )
        for node in self.mlnodes:
            self.api.add_node(node.registration())
        self.wait_nodes_inference()

    def _write_api_config(self, chain_url: str) -> Path:
        intervals = {**api_intervals(self.opts.block_time_s, self.opts.api_profile), **self.api_interval_overrides}
        self.info.api_refresh_tick_s = intervals["client_refresh_s"]  # the running node's tick (pr228's grace)
        return write_reference_api_config(
            self.workdir / "apinode",
            chain_url=chain_url,
            start_version=self.opts.start_version,
            profile=self.opts.api_profile,
            intervals=intervals,
            api={"public_server_port": 0, "admin_server_port": 0, "ml_server_port": 0, "poc_callback_url": ""},
            profile_overrides=self.api_overrides,
        )

    def _stop_chain_and_api(self) -> None:
        for part in ("apinode", "proxy", "timeline", "simnet"):
            obj = getattr(self, part)
            if obj is not None:
                try:
                    obj.stop()
                finally:
                    setattr(self, part, None)

    # -- Testnet protocol --------------------------------------------------------------------
    def stop_api(self) -> None:
        assert self.apinode is not None
        self.apinode.stop()

    def start_api(self) -> None:
        assert self.apinode is not None
        self.apinode.start()
        self.api = type(self.api)(self.apinode.public_url, self.apinode.admin_url)

    def configure_api(self, *, profile: str, overrides: dict | None = None, intervals: dict | None = None) -> None:
        """Run the API node with this profile and these knob/interval overrides from the next rebuild on; a change
        marks the chain dirty (the next test gets a fresh chain and API node)."""
        wanted = (profile, dict(overrides or {}), dict(intervals or {}))
        if wanted == (self.opts.api_profile, self.api_overrides, self.api_interval_overrides):
            return
        self.opts = self.opts.with_(api_profile=profile)
        self.info.api_profile = profile
        self.info.api_under_test = f"model apinode, profile {profile}" + (f", knobs {overrides}" if overrides else "")
        self.api_overrides, self.api_interval_overrides = wanted[1], wanted[2]
        self.dirty = True

    def rebuild_chain(self) -> None:
        """Fresh chain and API node (state file removed); the mocks stay, their journals are reset."""
        self._stop_chain_and_api()
        state = self.workdir / "apinode" / "state.yaml"
        state.unlink(missing_ok=True)
        self.mlnodes_reset(scenarios=True)
        self._start_chain_and_api()
        self.dirty = False

    def mlnodes_reset(self, *, scenarios: bool = False) -> None:
        """Clear every mock's journal. `scenarios=True` (only while no API node runs: chain rebuild) also puts the
        mocks' per-version state back to STOPPED and nginx's default route back to the start version."""
        super().mlnodes_reset(scenarios=scenarios)
        if not scenarios:
            return
        if self.mocks is not None:
            self.mocks.reset_nginx(self.opts.start_version)

    def logs(self) -> dict[str, Path]:
        return {p.stem: p for p in sorted((self.workdir / "logs").glob("*.log"))}

    def child_pids(self) -> list[dict]:
        """[{name, pid}] of every supervised child process (each leads its own process group), for `harness down`."""
        parts = [
            ("simnet", self.simnet),
            ("apinode", self.apinode),
            *(self.mocks.processes() if self.mocks else ()),
        ]
        out = []
        for name, part in parts:
            proc = getattr(part, "proc", None)
            if proc is not None and proc.pid is not None and proc.is_running():
                out.append({"name": name, "pid": proc.pid})
        return out

