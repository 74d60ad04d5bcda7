"""Docker backend: the same Testnet handle as EmbeddedTestnet, every component in a container (testcontainers).

    with DockerTestnet(RunOptions(backend="docker"), workdir) as tn:       # --images local (harness images build)
        tn.chain.mlnode_version()                                           # "v0.3.8"

Containers: chain (local: `harness simnet` in the harness image; upstream: inferenced), the chaos proxy in front of
the chain RPC (harness image), the API node (local: `harness apinode`; upstream: decentralized-api), and one
WireMock per MLNode, or per version behind nginx (side-by-side). network_mode "host" (CI: all on 127.0.0.1,
allocated ports on each command line) or "bridge" (one labelled user-defined network, DNS names, published ports).

Labels and reaping: every container and network carries session_labels(session) plus the testnet prefix and the
owner's pid and pid start time. At start, objects of *other* sessions whose owner process is gone (a crashed run on
this host) are reaped; live sessions (parallel xdist workers, other users) are never touched. close() removes this
testnet's objects (also after a failed start); `--keep-env` skips close and records a state file per testnet, so
`harness down --state-file F` reaps them (so does the next session on this host, as their owner is gone).
Readiness: chain `status` height >= 1 and not catching up; API `GET /v1/status`; WireMock admin; container logs are
written to workdir/logs/<component>.log (logs()), so failure bundles include them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from harness.backends.base import BaseTestnet, config_lists_nodes
from harness.backends.contract import Capability, Endpoints, NodeSpec, TestnetInfo
from harness.backends.docker import model as model
from harness.backends.docker import upstream as upstream
from harness.backends.docker import util as docker_util
from harness.backends.docker.components import MODES, Component, NetPlan, PortSpec
from harness.backends.docker.session import LABEL_OWNER, LABEL_TESTNET, SESSION, choose_images, next_prefix, owner_tag, reap_stale
from harness.chain.keys import DEV_MNEMONIC, Key
from harness.clients.api import ApiClient
from harness.errors import ConfigError, DependencyMissing, StartupError
from harness.model.apinode.profiles import api_intervals
from harness.options import RunOptions
from harness.util.wait import wait_until

if TYPE_CHECKING:
    from harness.backends.docker.mocks import DockerNginx

# Local images run our model; upstream images run Gonka's binaries (not yet run against the published images).
LOCAL_CAPABILITIES = frozenset(Capability) - {
    Capability.CHAIN_POC,
    Capability.CHAOS_PROXY,
    Capability.PARTICIPANTS,
    Capability.MLNODE_LIFECYCLE,  # its mocks are containers over mounted mapping files
}
UPSTREAM_CAPABILITIES = frozenset(
    {Capability.RESTART_API, Capability.REBUILD, Capability.CHAIN_POC, Capability.SIDE_BY_SIDE, Capability.CHOOSE_MLNODES}
)


class DockerTestnet(BaseTestnet):
    """Implements harness.backends.contract.Testnet with containers. The chaos proxy runs in a container with a
    control API (`proxy` is its ChaosControl), not in-process: no CHAOS_PROXY capability."""

    inference_timeout_s = 30.0

    def __init__(
        self,
        opts: RunOptions,
        workdir: Path,
        *,
        nodes: tuple[NodeSpec, ...] | None = None,
        chaos: bool = True,
        network_mode: str = "host",
        voting_period_blocks: int = 3,
        api_overrides: dict[str, Any] | None = None,
        api_intervals: dict[str, float] | None = None,
    ) -> None:
        if network_mode not in MODES:
            raise ConfigError(f"network_mode: {network_mode!r} is not one of {', '.join(MODES)}")
        self.opts = opts
        self.workdir = Path(workdir).resolve()
        self.node_specs = tuple(nodes) if nodes else (NodeSpec("mlnode-1"),)
        self.use_chaos = chaos
        self.voting_period_blocks = voting_period_blocks
        self.api_overrides = dict(api_overrides or {})  # reference API node profile knobs, as EmbeddedTestnet
        self.api_interval_overrides = dict(api_intervals or {})  # e.g. {"client_refresh_s": 30}
        self.prefix = next_prefix()
        self.labels = {**docker_util.session_labels(SESSION), LABEL_TESTNET: self.prefix}
        self.net = NetPlan(network_mode, self.prefix, {**self.labels, LABEL_OWNER: owner_tag()})
        upstream_api = opts.images == "upstream" or "api" in opts.image_overrides
        super().__init__(
            TestnetInfo(
                backend="docker",
                chain_id="gonka-testnet",
                block_time_s=opts.block_time_s,
                start_version=opts.start_version,
                api_profile=opts.api_profile,
                topology=opts.topology,
                validator_mnemonics=[DEV_MNEMONIC],
                api_kind="upstream" if upstream_api else "model",
                api_under_test=(
                    "decentralized-api image (unverified path)"
                    if upstream_api
                    else f"model apinode, profile {opts.api_profile} (container)"
                ),
                chain_under_test=(
                    "inferenced image (unverified path)" if opts.images == "upstream" else "model simnet (container)"
                ),
            )
        )
        self.capabilities = UPSTREAM_CAPABILITIES if upstream_api else LOCAL_CAPABILITIES
        self.images: dict[str, str] = {}
        self._mocks: list[Component] = []
        self._nginx: list[DockerNginx] = []
        self.chain_c: Component | None = None
        self.proxy_c: Component | None = None
        self.api_c: Component | None = None
        self.proxy = None  # ChaosControl of the chaos proxy container (EmbeddedTestnet runs it as a child process)
        self._gov_key: Key | None = None
        self._api_chain_url = ""
        self._register_on_start = False  # reset_api_state(): the next start_api() registers the nodes again

    @property
    def upstream(self) -> bool:
        return self.opts.images == "upstream"

    @property
    def log_dir(self) -> Path:
        return self.workdir / "logs"

    # -- lifecycle --------------------------------------------------------------------------------------------
    def _start(self) -> None:
        reason = docker_util.docker_available()
        if reason:
            raise DependencyMissing(f"--backend docker: {reason}")
        docker_util.disable_ryuk()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.images = choose_images(self.opts)
        if self.upstream:  # UNVERIFIED path (docker_upstream)
            self.info.chain_id, self.info.block_time_s = upstream.CHAIN_ID, upstream.BLOCK_TIME_S
        reap_stale()
        self.net.start()
        # lazy: cosmpy, protobuf, model and proxy code load when a testnet starts, not with pytest
        from harness.backends.docker.mocks import start_mocks

        self._mocks, self._nginx, self.mlnodes = start_mocks(
            self.node_specs, self.opts, self.images, self.net, self.workdir, self.log_dir
        )
        self._start_chain_and_api()

    def _teardown_steps(self) -> tuple[Callable[[], object], ...]:
        """Remove every container (logs saved first) and the network; every step runs even if one fails."""
        return (self._stop_chain_and_api, self._remove_mocks, self.net.close, self._reap_labelled)

    def _reap_labelled(self) -> None:
        docker_util.reap(self.labels)

    def _remove_mocks(self) -> None:
        for c in self._mocks:
            c.remove()
        self._mocks, self._nginx = [], []

    # -- chain + chaos proxy + API node -----------------------------------------------------------------------
    def _chain_component(self) -> Component:
        if self.upstream:
            home = upstream.prepare_chain_home(
                self.workdir / "inference", self.opts.start_version, self.voting_period_blocks * upstream.BLOCK_TIME_S
            )
            return upstream.chain_component(self.images["chain"], home, self.net, self.log_dir)
        return model.chain_component(
            self.images["chain"],
            self.workdir / "chain",
            self.opts,
            self.net,
            self.log_dir,
            voting_period_blocks=self.voting_period_blocks,
            chain_id=self.info.chain_id,
        )

    def _api_ports(self) -> dict[str, PortSpec]:
        if self.upstream:
            return self.net.ports(False, **upstream.API_SERVICE_PORTS)
        return self.net.ports(True, public=9000, ml=9100, admin=9200)

    def _write_api_config(self, chain_url: str, ports: dict[str, PortSpec]) -> Path:
        """The API node's config file (mounted; read at every container start)."""
        cfg_dir = self.workdir / "apinode"
        cfg_dir.mkdir(parents=True, exist_ok=True)
        callback = f"http://{self.net.host_of('api')}:{ports['ml'].service}"
        if self.upstream:
            public = f"http://{self.net.host_of('api')}:{ports['public'].service}"
            return upstream.write_api_config(
                cfg_dir / "api-config.yaml",
                chain_url=chain_url,
                public_url=public,
                callback_url=callback,
                start_version=self.opts.start_version,
                ports=ports,
            )
        intervals = {**api_intervals(self.opts.block_time_s), **self.api_interval_overrides}
        self.info.api_refresh_tick_s = intervals["client_refresh_s"]  # the running node's tick (pr228's grace)
        return model.write_api_config(
            cfg_dir,
            self.opts,
            chain_url=chain_url,
            intervals=intervals,
            ports=ports,
            callback_url=callback if self.net.mode == "bridge" else "",
            profile_overrides=self.api_overrides,
        )

    def _api_component(self, chain_url: str) -> Component:
        self._api_chain_url = chain_url
        ports = self._api_ports()
        cfg = self._write_api_config(chain_url, ports)
        if self.upstream:
            return upstream.api_component(
                self.images["api"], cfg, self.workdir / "inference", chain_url, self.net, ports, self.log_dir
            )
        return model.api_component(self.images["api"], cfg, self.net, ports, self.log_dir)

    def _start_chain_and_api(self) -> None:
        # lazy: cosmpy, protobuf, model and proxy code load when a testnet starts, not with pytest
        from harness.chain import ChainClient
        from harness.cometbft import BlockTimeline, RpcClient

        self.chain_c = chain_c = self._chain_component().start()
        rpc_url = chain_c.url("rpc")
        self._wait_chain(rpc_url)
        self.rpc = RpcClient(rpc_url)
        self.chain = ChainClient(rpc_url)
        self.timeline = BlockTimeline(chain_c.url("rpc", "ws") + "/websocket")
        self.timeline.start()
        api_chain = chain_c.service_url("rpc")
        host_api_chain = rpc_url
        control = None
        if self.use_chaos:
            seed = self.opts.chaos_seed or 0
            proxy = model.chaos_proxy_component(self.images["harness"], api_chain, seed, self.net, self.log_dir)
            self.proxy_c = proxy_c = proxy.start()
            control = proxy_c.url("control")
            # lazy: cosmpy, protobuf, model and proxy code load when a testnet starts, not with pytest
            from harness.chaos import ChaosControl

            self.proxy = ChaosControl(control)  # the proxy runs in a container: driven over its control API
            self._wait_http(proxy_c, control + "/status", "chaos proxy control API")
            api_chain, host_api_chain = proxy_c.service_url("listen"), proxy_c.url("listen")
        self.api_c = api_c = self._api_component(api_chain).start()
        self._wait_api()
        self.api = ApiClient(api_c.url("public"), api_c.url("admin"))
        self.endpoints = Endpoints(
            chain_rpc=rpc_url,
            api_chain_rpc=host_api_chain,
            api_public=api_c.url("public"),
            api_admin=api_c.url("admin"),
            api_callback=api_c.url("ml"),
            chaos_control=control,
            nginx=self._nginx[0].c.url("http") if self._nginx else None,
        )
        for node in self.mlnodes:
            self.api.add_node(node.registration())
        self.wait_nodes_inference()

    def _wait_chain(self, rpc_url: str) -> None:
        def ready() -> bool:
            info = requests.get(rpc_url + "/status", timeout=2).json()["result"]["sync_info"]
            return int(info["latest_block_height"]) >= 1 and not info["catching_up"]

        c = self.chain_c
        if c is None:
            raise StartupError("docker testnet: the chain container is not started")
        wait_until(
            ready,
            timeout_s=240 if self.upstream else 60,
            what=f"chain {rpc_url}/status height >= 1, not catching up",
            evidence=c.tail,
            abort=c.exited,
            hint="the chain container's log is above",
        )

    def _wait_http(self, c: Component, url: str, what: str, timeout_s: float = 60) -> None:
        wait_until(
            lambda: requests.get(url, timeout=2).status_code == 200,
            timeout_s=timeout_s,
            what=f"{what} {url}",
            evidence=c.tail,
            abort=c.exited,
            hint=f"the {c.name} container's log is above",
        )

    def _wait_api(self) -> None:
        c = self.api_c
        if c is None:
            raise StartupError("docker testnet: the API node's container is not started")
        self._wait_http(c, c.url("public") + "/v1/status", "API node", 240 if self.upstream else 60)

    def _stop_chain_and_api(self) -> None:
        if self.timeline is not None:
            self.timeline.stop()
            self.timeline = None
        self.proxy = None
        for attr in ("api_c", "proxy_c", "chain_c"):
            c = getattr(self, attr)
            if c is not None:
                try:
                    c.remove()
                finally:
                    setattr(self, attr, None)

    # -- Testnet protocol -------------------------------------------------------------------------------------
    def stop_api(self, participant: str | None = None) -> None:
        self.participant(participant)
        assert self.api_c is not None
        self.api_c.stop()

    def start_api(self, participant: str | None = None) -> None:
        """docker start. In host mode the API ports are allocated afresh first (the old ones may sit in TIME_WAIT
        or be taken meanwhile); the mounted config is rewritten, and endpoints and `api` follow."""
        self.participant(participant)
        assert self.api_c is not None
        assert self.endpoints is not None
        if self.net.mode == "host":
            self.api_c.ports = self._api_ports()
            self._write_api_config(self._api_chain_url, self.api_c.ports)
            self.endpoints = dataclasses.replace(
                self.endpoints,
                api_public=self.api_c.url("public"),
                api_admin=self.api_c.url("admin"),
                api_callback=self.api_c.url("ml"),
            )
        self.api_c.resume()
        self._wait_api()
        self.api = type(self.api)(self.api_c.url("public"), self.api_c.url("admin"))
        if self._register_on_start:  # its first start after reset_api_state(): the nodes are registered again
            for node in self.mlnodes:
                self.api.add_node(node.registration())
            self._register_on_start = False

    def kill_api(self, participant: str | None = None) -> None:
        """docker kill: SIGKILL to the container's init, so every process in it dies at once (a crash)."""
        self.participant(participant)
        assert self.api_c is not None
        self.api_c.kill()

    def reset_api_state(self, participant: str | None = None) -> None:
        """The model API node's state file goes and its config lists the MLNodes, as an operator's does (upstream images
        copy their config afresh at every start anyway: their nodes are registered again at the next start)."""

        self.participant(participant)
        assert self.api_c is not None
        if self.api_c.status() == "running":
            raise ConfigError("the API node container is running; stop_api() or kill_api() it before reset_api_state()")
        if self.upstream:
            self._register_on_start = True
            return
        (self.workdir / "apinode" / "state.yaml").unlink(missing_ok=True)
        config_lists_nodes(self.workdir / "apinode" / "config.yaml", self.mlnodes)

    def configure_api(
        self, *, profile: str, overrides: dict[str, Any] | None = None, intervals: dict[str, float] | None = None
    ) -> None:
        """Run the API node with this profile and these knob/interval overrides from the next rebuild on; a change
        marks the chain dirty (the next test gets a fresh chain and API node)."""
        wanted = (profile, dict(overrides or {}), dict(intervals or {}))
        if wanted == (self.opts.api_profile, self.api_overrides, self.api_interval_overrides):
            return
        self.opts = self.opts.with_(api_profile=profile)
        self.info.api_profile = profile
        self.api_overrides, self.api_interval_overrides = wanted[1], wanted[2]
        self.dirty = True

    def rebuild_chain(self) -> None:
        """Fresh chain, proxy and API containers (API state removed); the mocks stay, their journals are reset."""
        self._stop_chain_and_api()
        (self.workdir / "apinode" / "state.yaml").unlink(missing_ok=True)
        self._gov_key = None
        self.mlnodes_reset(scenarios=True)
        self._start_chain_and_api()
        self.dirty = False

    def mlnodes_reset(self, *, scenarios: bool = False) -> None:
        """Clear every mock's journal. `scenarios=True` (only while no API node runs: chain rebuild) also puts the
        mocks' per-version state back to STOPPED and nginx's default route back to the start version."""
        super().mlnodes_reset(scenarios=scenarios)
        if not scenarios:
            return
        for ng in self._nginx:
            if ng.current != self.opts.start_version:
                ng.set_current(self.opts.start_version)

    def logs(self) -> dict[str, Path]:
        for c in [*self._mocks, self.chain_c, self.proxy_c, self.api_c]:
            if c is not None:
                c.save_logs()
        return {p.stem: p for p in sorted(self.log_dir.glob("*.log"))}

    def containers(self) -> list[Component]:
        return [c for c in [*self._mocks, self.chain_c, self.proxy_c, self.api_c] if c is not None]

    def child_pids(self) -> list[dict[str, Any]]:
        return []  # containers, reaped by label (self.labels) by `harness down`

    def validator_keys(self) -> list[Key]:
        if self.upstream:  # UNVERIFIED: the genesis key from the chain container's keyring
            if self._gov_key is None:
                if self.chain_c is None:
                    raise StartupError("docker testnet: the chain container is not started (no genesis key to export)")
                self._gov_key = Key.from_hex(upstream.export_gov_key(self.chain_c), name="genesis")
            return [self._gov_key]
        return super().validator_keys()
