"""Embedded backend: simnet, WireMock MLNodes (optionally behind nginx), a chaos proxy and the reference
API node, all on 127.0.0.1 with allocated ports, supervised, logs captured, torn down on any exit.

    with EmbeddedTestnet(RunOptions(), workdir) as tn:
        tn.chain.mlnode_version()        # "v0.3.8"
    with EmbeddedTestnet(RunOptions(), workdir, participants=3) as tn:
        tn.participants[2].api.nodes()   # three validators, each with its own API node and MLNode mocks

A network of participants (embedded/participant.py): simnet's genesis has one validator per participant (keys
`dev_validator_keys(n)`, the participants' powers); every participant's mocks start concurrently, then the chain and
every API node concurrently. Every participant's API node reaches the chain through its own chaos proxy (faults, and
the delivery clock's timing and holds: harness/audit/contracts.py); `testnet.proxy` is the first participant's.
Without proxies (`chaos=False`), or with `chain_holds=True` (`harness up`: its operator commands audit on the chain
clock), the chain itself holds blocks H and H+1 for the chain clock.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.audit.contracts import PRE_UPGRADE_HOLD_S, UPGRADE_HOLD_S
from harness.backends.base import BaseTestnet, side_by_side, teardown
from harness.backends.contract import (
    Capability,
    Endpoints,
    NodeSpec,
    Participant,
    ParticipantSpec,
    TestnetInfo,
    participant_specs,
)
from harness.backends.embedded.participant import EmbeddedParticipant
from harness.chain.keys import DEV_MNEMONIC
from harness.errors import ConfigError
from harness.model.apinode.profiles import api_intervals
from harness.options import RunOptions
from harness.util.ports import free_port

if TYPE_CHECKING:
    from harness.backends.mocks import LocalMocks
    from harness.chaos.process import ChaosProxyProcess
    from harness.model.apinode import ApiNodeProcess
    from harness.model.simnet import Genesis, SimnetProcess


class EmbeddedTestnet(BaseTestnet):
    """Implements harness.backends.contract.Testnet with our own processes: the model chain and API node(s)."""

    capabilities = frozenset(Capability) - {Capability.CHAIN_POC}

    def __init__(
        self,
        opts: RunOptions,
        workdir: Path,
        *,
        nodes: tuple[NodeSpec, ...] = (NodeSpec("mlnode-1"),),
        participants: int | tuple[ParticipantSpec, ...] = 1,
        chaos: bool = True,
        voting_period_blocks: int | None = None,
        api_overrides: dict[str, Any] | None = None,
        api_intervals: dict[str, float] | None = None,
        chain_holds: bool | None = None,
    ) -> None:
        self.opts = opts
        self.workdir = Path(workdir)
        self.use_chaos = chaos
        # the chain holds H and H+1 itself (for audits on the chain clock: `harness up`'s operator commands, or no
        # proxies); by default only without proxies, whose holds the hop arms (harness/drive/switch_holds.py)
        self.chain_holds = (not chaos) if chain_holds is None else chain_holds
        self.api_overrides = dict(api_overrides or {})  # profile knob overrides, e.g. {"stop_old": False}
        self.api_interval_overrides = dict(api_intervals or {})  # e.g. {"client_refresh_s": 30}
        specs = participant_specs(participants, nodes=tuple(nodes))
        # 3 blocks for one validator's vote; one more per further validator, whose vote the harness also signs and
        # broadcasts (3 votes missed a 3-block period at load 12)
        self.voting_period_blocks = voting_period_blocks or 3 + len(specs) - 1
        self.members = [
            EmbeddedParticipant(spec, index=i, network=len(specs) > 1, opts=opts, workdir=self.workdir)
            for i, spec in enumerate(specs)
        ]
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
                api_under_test=self.members[0].under_test(opts.api_profile, self.api_overrides),
                chain_under_test="model simnet" + (f", {len(specs)} validators" if len(specs) > 1 else ""),
            )
        )
        self.simnet: SimnetProcess | None = None
        self.proxy: ChaosProxyProcess | None = None  # the first participant's (each member keeps its own)

    # the first participant's parts (every single-participant caller)
    @property
    def mocks(self) -> LocalMocks | None:
        return self.members[0].mocks

    @property
    def apinode(self) -> ApiNodeProcess | None:
        return self.members[0].apinode

    @property
    def participants(self) -> list[Participant]:
        return [m.view for m in self.members if m.view is not None]

    def validator_keys(self) -> list[Any]:
        return [m.validator for m in self.members]

    # -- lifecycle --------------------------------------------------------------------------
    def _start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._start_mocks()
        self._start_chain_and_api()

    def _teardown_steps(self) -> tuple[Callable[[], object], ...]:
        return (self._stop_chain_and_api, self._stop_mocks)

    # -- MLNode mocks ------------------------------------------------------------------------
    def _start_mocks(self) -> None:
        """Every participant's mocks at once (each WireMock is a JVM: starting them side by side saves seconds)."""
        side_by_side(m.start_mocks for m in self.members)
        mocks = self.members[0].mocks
        assert mocks is not None  # start_mocks() made them
        self.mlnodes = mocks.mlnodes

    def _stop_mocks(self) -> None:

        teardown("embedded mocks", [m.stop_mocks for m in self.members])

    # -- chain + proxy + API nodes -----------------------------------------------------------
    def _genesis(self) -> Genesis:
        # lazy: cosmpy, protobuf, model and proxy code load when a testnet starts, not with pytest
        from harness.model.simnet import Genesis

        chain_clock = self.chain_holds
        return Genesis.with_validators(
            len(self.members),
            powers=[m.spec.power for m in self.members],
            block_time_s=self.opts.block_time_s,
            upgrade_hold_s=UPGRADE_HOLD_S if chain_clock else 0.0,  # "switched at H + 1" caught on the chain clock
            pre_upgrade_hold_s=PRE_UPGRADE_HOLD_S if chain_clock else 0.0,  # and "switched at H - 1"
            voting_period_blocks=self.voting_period_blocks,
            initial_mlnode_version=self.opts.start_version,
            chain_id=self.info.chain_id,
        )

    def _start_chain_and_api(self) -> None:
        # lazy: cosmpy, protobuf, model and proxy code load when a testnet starts, not with pytest
        from harness.chain import ChainClient
        from harness.cometbft import BlockTimeline, RpcClient
        from harness.model.simnet import SimnetProcess

        logs = self.workdir / "logs"
        # An API node needs no running chain to start (it retries), so simnet and every API node start concurrently;
        # the chain's port is allocated up front so the proxy and the API configs can name it.
        rpc_url = f"http://127.0.0.1:{free_port()}"
        self.simnet = simnet = SimnetProcess(self._genesis(), port=int(rpc_url.rsplit(":", 1)[1]), log_dir=logs)
        if self.use_chaos:  # their own processes: a pause of the test process must not hold an API node's chain back
            for m in self.members:
                m.make_proxy(rpc_url, seed=self.opts.chaos_seed or 0, log_dir=logs)
            self.proxy = self.members[0].proxy
        intervals = {**api_intervals(self.opts.block_time_s), **self.api_interval_overrides}
        self.info.api_refresh_tick_s = intervals["client_refresh_s"]  # the running node's tick (pr228's grace)
        nodes = [self._write_api_config(m, m.proxy.url if m.proxy else rpc_url, intervals) for m in self.members]
        proxies = [m.proxy.start for m in self.members if m.proxy is not None]
        # the first failure is raised; close() stops the rest
        side_by_side([simnet.start, *proxies, *(n.start for n in nodes)])
        self.rpc = RpcClient(rpc_url)
        self.rpc.wait_for_height(1, timeout_s=15)
        self.chain = ChainClient(rpc_url)
        self.timeline = BlockTimeline(rpc_url.replace("http://", "ws://") + "/websocket")
        self.timeline.start()
        for m in self.members:
            m.publish(self.opts.api_profile, self.api_overrides)
        first = self.members[0]
        # publish(), make_apinode() and start_mocks() made them
        assert first.view is not None
        assert first.apinode is not None
        assert first.mocks is not None
        self.api = first.view.api
        self.endpoints = Endpoints(
            chain_rpc=rpc_url,
            api_chain_rpc=self.proxy.url if self.proxy else rpc_url,
            api_public=first.apinode.public_url,
            api_admin=first.apinode.admin_url,
            chaos_control=self.proxy.control_url if self.proxy else None,
            nginx=first.mocks.nginx[0].url if first.mocks.nginx else None,
        )
        for m in self.members:
            m.register_nodes()
        self.wait_nodes_inference()

    def _write_api_config(self, member: EmbeddedParticipant, chain_url: str, intervals: dict[str, float]) -> ApiNodeProcess:
        """The participant's API node (not started), its config written for this chain URL."""
        return member.make_apinode(
            chain_url=chain_url, opts=self.opts, intervals=intervals, run_overrides=self.api_overrides,
            log_dir=self.workdir / "logs",
        )  # fmt: skip

    def _stop_chain_and_api(self) -> None:

        def stop_apinodes() -> None:
            side_by_side([m.apinode.stop for m in self.members if m.apinode is not None])

        def stop_proxies() -> None:
            self.proxy = None
            side_by_side([m.stop_proxy for m in self.members])

        teardown("embedded chain and API nodes", [stop_apinodes, stop_proxies, self._stop_part("timeline"),
                                                   self._stop_part("simnet")])  # fmt: skip

    def _stop_part(self, part: str) -> Callable[[], None]:
        def stop() -> None:
            obj = getattr(self, part)
            if obj is not None:
                try:
                    obj.stop()
                finally:
                    setattr(self, part, None)

        stop.__name__ = f"stop_{part}"
        return stop

    # -- Testnet protocol --------------------------------------------------------------------
    def _member(self, participant: str | None) -> EmbeddedParticipant:
        if participant is None:
            return self.members[0]
        for m in self.members:
            if m.id == participant:
                return m
        raise ConfigError(f"no participant {participant!r} in this testnet; its participants are {[m.id for m in self.members]}")

    def stop_api(self, participant: str | None = None) -> None:
        m = self._member(participant)
        assert m.apinode is not None
        m.apinode.stop()

    def start_api(self, participant: str | None = None) -> None:
        m = self._member(participant)
        assert m.apinode is not None
        m.apinode.start()
        view = m.publish(self.opts.api_profile, self.api_overrides)
        if m is self.members[0]:
            self.api = view.api

    def kill_api(self, participant: str | None = None) -> None:
        m = self._member(participant)
        assert m.apinode is not None
        m.apinode.kill()

    def reset_api_state(self, participant: str | None = None) -> None:
        self._member(participant).reset_state()

    def configure_api(
        self, *, profile: str, overrides: dict[str, Any] | None = None, intervals: dict[str, float] | None = None
    ) -> None:
        """Run the API nodes with this profile and these knob/interval overrides from the next rebuild on (a
        participant's own knobs stay on top); a change marks the chain dirty (the next test gets a fresh chain and
        API nodes)."""
        wanted = (profile, dict(overrides or {}), dict(intervals or {}))
        if wanted == (self.opts.api_profile, self.api_overrides, self.api_interval_overrides):
            return
        self.opts = self.opts.with_(api_profile=profile)
        self.info.api_profile = profile
        self.api_overrides, self.api_interval_overrides = wanted[1], wanted[2]
        self.info.api_under_test = self.members[0].under_test(profile, self.api_overrides)
        self.dirty = True

    def rebuild_chain(self) -> None:
        """Fresh chain and API nodes (state files removed); the mocks stay, their journals are reset."""
        self._stop_chain_and_api()
        for m in self.members:
            m.state_file().unlink(missing_ok=True)
        self.mlnodes_reset(scenarios=True)
        self._start_chain_and_api()
        self.dirty = False

    def mlnodes_reset(self, *, scenarios: bool = False) -> None:
        """Clear every mock's journal. `scenarios=True` (only while no API node runs: chain rebuild) also puts the
        mocks' per-version state back to STOPPED, nginx's default route back to the start version, and the mappings of
        a participant that serves only some versions back to those (then slow-start versions load again)."""
        for m in self.members if scenarios else ():
            if m.mocks is not None:
                m.mocks.reset_nginx(self.opts.start_version)
                if not m.serves_every_version:  # a version deployed at run time is gone again
                    m.mocks.reset_mappings()
        super().mlnodes_reset(scenarios=scenarios)  # journals, scenarios, slow-start stubs armed again

    def mock_sets(self) -> list[LocalMocks]:
        return [m.mocks for m in self.members if m.mocks is not None]

    def child_pids(self) -> list[dict[str, Any]]:
        """[{name, pid}] of every supervised child process (each leads its own process group), for `harness down`."""
        return self.running([("simnet", self.simnet), *(p for m in self.members for p in m.processes())])
