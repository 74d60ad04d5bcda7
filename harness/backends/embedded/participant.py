"""One participant of the embedded network: its MLNode mocks and its model API node (the validator is in simnet's
genesis). The embedded backend starts every participant's mocks concurrently, then the chain and every API node
concurrently.

In a network (more than one participant) every per-participant name carries the participant id, so journals, logs
and admin views never mix: MLNode `mlnode-1` of participant `p2` is `p2-mlnode-1`, its API node runs as
`apinode-p2` with its config and state in `<workdir>/apinode-p2/`. A testnet of one participant keeps the plain
names (`mlnode-1`, `apinode`).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.backends.base import config_lists_nodes, write_reference_api_config
from harness.backends.contract import Participant, ParticipantSpec
from harness.backends.mocks import LocalMocks
from harness.chain.keys import DEV_MNEMONIC, Key
from harness.clients.api import ApiClient
from harness.errors import ConfigError
from harness.options import PROFILES, TOPOLOGIES, RunOptions
from harness.util.ports import free_port
from harness.versions import check_version

if TYPE_CHECKING:
    from harness.chaos.process import ChaosProxyProcess
    from harness.model.apinode import ApiNodeProcess


class EmbeddedParticipant:
    def __init__(self, spec: ParticipantSpec, *, index: int, network: bool, opts: RunOptions, workdir: Path) -> None:
        self.spec = spec
        self.id = spec.id
        self.index = index  # its validator is `dev_validator_keys(n)[index]`: the dev mnemonic at account `index`
        self.validator = Key.from_mnemonic(DEV_MNEMONIC, index=index, name=f"validator-{index}")
        self.topology = spec.topology or opts.topology
        if self.topology not in TOPOLOGIES:
            raise ConfigError(f"participant {spec.id}: topology {self.topology!r} is not one of {', '.join(TOPOLOGIES)}")
        self.versions = self._served_versions(spec, opts)
        self.opts = opts
        if spec.gonka_bin is not None:
            raise ConfigError(
                f"participant {spec.id}: gonka_bin is for --backend gonka; on the embedded backend give it its own model "
                f"API node build with api_profile= (one of {', '.join(PROFILES)})"
            )
        if spec.api_profile is not None and spec.api_profile not in PROFILES:
            raise ConfigError(f"participant {spec.id}: api_profile {spec.api_profile!r} is not one of {', '.join(PROFILES)}")
        self.network = network
        prefix = f"{spec.id}-" if network else ""
        self.node_specs = tuple(replace(n, id=prefix + n.id) for n in spec.nodes)
        self.name = f"apinode-{spec.id}" if network else "apinode"
        self.workdir = Path(workdir)
        self.cfg_dir = self.workdir / self.name
        self.mocks: LocalMocks | None = None
        self.apinode: ApiNodeProcess | None = None
        self.proxy: ChaosProxyProcess | None = None  # on its API node's chain connection
        self.view: Participant | None = None

    @staticmethod
    def _served_versions(spec: ParticipantSpec, opts: RunOptions) -> tuple[str, ...]:
        if spec.mlnode_versions is None:
            return opts.versions
        served = tuple(check_version(v, field=f"participant {spec.id} mlnode_versions") for v in spec.mlnode_versions)
        if opts.start_version not in served:
            raise ConfigError(
                f"participant {spec.id}: mlnode_versions {list(served)} leave out the start version {opts.start_version}; "
                "its MLNodes must serve the version the network starts on"
            )
        return served

    @property
    def serves_every_version(self) -> bool:
        return self.spec.mlnode_versions is None

    # -- MLNode mocks ------------------------------------------------------------------------
    def start_mocks(self) -> None:
        self.mocks = LocalMocks(
            self.node_specs,
            self.versions,
            topology=self.topology,
            workdir=self.workdir,
            mocks_dir=f"mocks-{self.id}" if self.network else "mocks",
            any_version=self.serves_every_version,
            lifecycle=self.spec.lifecycle or self.opts.mlnode_lifecycle,
            start_version=self.opts.start_version,
        )
        self.mocks.start()

    def stop_mocks(self) -> None:
        if self.mocks is not None:
            self.mocks.stop()

    # -- chaos proxy -------------------------------------------------------------------------
    def make_proxy(self, chain_url: str, *, seed: int, log_dir: Path) -> None:
        """Its chaos proxy (not started), on an allocated port so the API node's config can name it."""
        # lazy: cosmpy, protobuf, model and proxy code load when a testnet starts, not with pytest
        from harness.chaos.process import ChaosProxyProcess

        name = f"chaos-proxy-{self.id}" if self.network else "chaos-proxy"
        self.proxy = ChaosProxyProcess(chain_url, seed=seed, listen_port=free_port(), log_dir=log_dir, name=name)

    def stop_proxy(self) -> None:
        proxy, self.proxy = self.proxy, None
        if proxy is not None:
            proxy.stop()

    # -- API node ----------------------------------------------------------------------------
    def profile(self, run_profile: str) -> str:
        """The behaviour profile of its API node: its own (a network of mixed builds), else the run's."""
        return self.spec.api_profile or run_profile

    def knobs(self, run_overrides: dict[str, Any]) -> dict[str, Any]:
        """Profile knob overrides of this participant's API node: the run's, then its own."""
        return {**run_overrides, **self.spec.api_overrides}

    def make_apinode(
        self, *, chain_url: str, opts: RunOptions, intervals: dict[str, float], run_overrides: dict[str, Any], log_dir: Path
    ) -> ApiNodeProcess:
        # lazy: cosmpy, protobuf, model and proxy code load when a testnet starts, not with pytest
        from harness.model.apinode import ApiNodeProcess

        cfg = write_reference_api_config(
            self.cfg_dir,
            chain_url=chain_url,
            start_version=opts.start_version,
            profile=self.profile(opts.api_profile),
            intervals=intervals,
            api={"public_server_port": 0, "admin_server_port": 0, "ml_server_port": 0, "poc_callback_url": ""},
            profile_overrides=self.knobs(run_overrides),
        )
        self.apinode = node = ApiNodeProcess(cfg, log_dir=log_dir, name=self.name)
        return node

    def under_test(self, profile: str, run_overrides: dict[str, Any]) -> str:
        knobs = self.knobs(run_overrides)
        return f"model apinode, profile {self.profile(profile)}" + (f", knobs {knobs}" if knobs else "")

    def publish(self, profile: str, run_overrides: dict[str, Any]) -> Participant:
        """The contract's view of this participant, with a fresh API client (after every API-node start)."""

        assert self.apinode is not None
        assert self.mocks is not None
        self.view = Participant(
            id=self.id,
            mlnodes=self.mocks.mlnodes,
            api=ApiClient(self.apinode.public_url, self.apinode.admin_url),
            api_public=self.apinode.public_url,
            api_admin=self.apinode.admin_url,
            power=self.spec.power,
            validator_mnemonic=DEV_MNEMONIC,
            validator_index=self.index,
            api_under_test=self.under_test(profile, run_overrides),
            chain_proxy=self.proxy,
        )
        self.view._key = self.validator  # derived once
        return self.view

    def register_nodes(self) -> None:
        assert self.view is not None
        for node in self.view.mlnodes:
            self.view.api.add_node(node.registration())

    def state_file(self) -> Path:
        return self.cfg_dir / "state.yaml"

    def reset_state(self) -> None:
        """Remove its API node's persisted state (it must be stopped): its next start is its first, with the operator's
        config only, which lists its MLNodes (they were registered on the admin API of the one before)."""

        if self.apinode is None or self.apinode.is_running():
            raise ConfigError(
                f"participant {self.id}: its API node is not stopped; stop_api() or kill_api() it before reset_api_state()"
            )
        self.state_file().unlink(missing_ok=True)
        assert self.mocks is not None
        config_lists_nodes(self.apinode.config_path, self.mocks.mlnodes)

    def processes(self) -> list[tuple[str, Any]]:
        """(name, service) of this participant's supervised processes, for `harness down`."""
        proxy = [(self.proxy.name, self.proxy)] if self.proxy is not None else []
        return [(self.name, self.apinode), *proxy, *(self.mocks.processes() if self.mocks else ())]
