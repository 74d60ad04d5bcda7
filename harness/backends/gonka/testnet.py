"""Gonka backend: the user's real `inferenced` and `decentralized-api` as local processes, WireMock MLNodes from our
mappings, and the harness's chaos proxy between the API node and the chain.

    with GonkaTestnet(RunOptions(backend="gonka", gonka_bin=Path("~/gonka-bin/main")), workdir) as tn:
        tn.api.chat("hi")                    # signed by a funded requester, answered through the real API node
        tn.info.api_under_test               # "decentralized-api main@312044d2 (sha256 ..., path)"

Start: mocks (their PoC validation callback aimed at the API node's callback port) -> chain (init + first block) ->
chaos proxy -> API node (its MLNodes in its config) -> the requester's first transaction (so the chain knows its
public key and the API node accepts its signature) -> every MLNode INFERENCE. A real node serves inference only after
its first PoC epoch put its MLNodes into the epoch group; with upstream's one-minute hardware sync that is about a
minute or two after start.

Rebuild: the chain and the API node are made afresh (new homes, new keys); the mocks stay and are reset.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.backends.base import BaseTestnet
from harness.backends.contract import Capability, Endpoints, NodeSpec
from harness.backends.gonka.binaries import GonkaBinaries, check_sandbox, gonka_info
from harness.backends.gonka.chain import GonkaChain
from harness.backends.gonka.dapi import DecentralizedApi
from harness.backends.gonka.genesis import ChainParams
from harness.backends.gonka.snapshot import Snapshot, SnapshotCache, start_with_cache, try_restore
from harness.backends.mocks import LocalMocks
from harness.clients.api import ApiClient, RequestSigner
from harness.errors import WaitTimeout
from harness.options import RunOptions
from harness.util.ports import port_is_listening
from harness.util.wait import wait_until

if TYPE_CHECKING:
    from harness.chaos.process import ChaosProxyProcess
    from harness.clients.api import ChatResult

CAPABILITIES = frozenset(
    {
        Capability.RESTART_API,
        Capability.REBUILD,
        Capability.CHAIN_POC,
        Capability.CHAOS_PROXY,
        Capability.SIDE_BY_SIDE,
        Capability.CHOOSE_MLNODES,
        Capability.MLNODE_LIFECYCLE,
    }
)
# First INFERENCE needs the hardware sync (upstream: every 60 s) and an epoch's PoC after it.
FIRST_INFERENCE_TIMEOUT_S = 240.0


class GonkaTestnet(BaseTestnet):
    capabilities = CAPABILITIES
    inference_timeout_s = 120.0

    def __init__(
        self,
        opts: RunOptions,
        workdir: Path,
        *,
        nodes: tuple[NodeSpec, ...] = (NodeSpec("mlnode-1"),),
        chaos: bool = True,
        params: ChainParams | None = None,
        binaries: GonkaBinaries | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.opts = opts
        self.workdir = Path(workdir).resolve()
        self.bins = binaries or GonkaBinaries.locate(opts.gonka_bin, revision=opts.gonka_revision)
        self.params = params or ChainParams(start_version=opts.start_version)
        super().__init__(gonka_info(self.bins, opts, self.params, chain_under_test=self.bins.describe("inferenced")))
        self.node_specs = nodes
        self.use_chaos = chaos
        self.mocks: LocalMocks | None = None
        self.chain_node: GonkaChain | None = None
        self.dapi: DecentralizedApi | None = None
        self.proxy: ChaosProxyProcess | None = None
        self.voting_period_blocks = 0  # measured on the running chain (its voting period at its block time)
        self.cache = SnapshotCache.from_options(opts.gonka_cache)
        self.progress = progress or (lambda m: print(f"[gonka] {m}", flush=True))
        self._generation = 0
        # kept across rebuilds: the public URL is on chain, the callback port is in the mocks' PoC webhooks
        self._api_ports: dict[str, int] | None = None

    # -- lifecycle -----------------------------------------------------------------------------------------------------
    def _start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        check_sandbox(self.workdir / "sandbox-check")
        self._start_chain_and_api()

    def _teardown_steps(self) -> tuple[Callable[[], object], ...]:
        return (self._stop_chain_and_api, self._stop_mocks)

    def _stop_mocks(self) -> None:
        if self.mocks is not None:
            self.mocks.stop()

    def _start_chain_and_api(self) -> None:
        """From the snapshot cache when it has this testnet (harness/backends/gonka/snapshot.py), else cold: genesis
        and the first PoC epoch, then a snapshot for the next time."""
        if not self.cache.enabled:
            self._cold_start()
            return
        key = self.cache.key(self.bins, self.params, nodes=self.node_specs, versions=self.opts.versions,
                             topology=self.opts.topology, participants=1)  # fmt: skip
        start_with_cache(self.cache, key, cold=self._cold_start, warm=self._warm_start, meta=self._snapshot_meta,
                         stop=self._stop_chain_and_api, progress=self.progress)  # fmt: skip

    def _snapshot_meta(self) -> tuple[Path, dict[str, Any]]:
        chain, dapi = self.chain_node, self.dapi
        assert chain is not None
        assert dapi is not None
        meta = {"height": self.rpc.height(), "api_ports": dapi.ports, "denom": chain.denom, "mnemonics": chain.mnemonics,
                "under_test": self.info.under_test()}  # fmt: skip
        return chain.workdir.parent, meta

    def _new_generation(self, *, ports: dict[str, int] | None) -> tuple[Path, GonkaChain, DecentralizedApi]:
        self._generation += 1
        gen = self.workdir / f"gen-{self._generation}"
        logs = self.workdir / "logs"
        chain = GonkaChain(self.bins, gen / "chain", self.params, public_url="", log_dir=logs)
        # the API node's ports are needed before the chain (its public URL goes into the gentx) and the mocks
        # (their validation callback); the process is configured and started once the chain runs.
        dapi = DecentralizedApi(self.bins, gen / "api", chain=chain, chain_url="", mlnodes=[],
                                start_version=self.opts.start_version, ports=ports, log_dir=logs)  # fmt: skip
        self._api_ports = dict(dapi.ports)
        chain.public_url = dapi.public_url
        self.chain_node, self.dapi = chain, dapi
        self._ensure_mocks(dapi)
        return gen, chain, dapi

    def _ensure_mocks(self, dapi: DecentralizedApi) -> None:
        if self.mocks is not None:
            return
        self.mocks = LocalMocks(
            self.node_specs,
            self.opts.versions,
            topology=self.opts.topology,
            workdir=self.workdir,
            validation_callback_url=f"{dapi.callback_url}/v1/poc-batches",
            lifecycle=self.opts.mlnode_lifecycle,
            start_version=self.opts.start_version,
        )
        self.mocks.start()
        self.mlnodes = self.mocks.mlnodes

    def _cold_start(self) -> None:
        """Genesis, chain, API node, the requester's first transaction, then the first PoC epoch (minutes)."""
        _, chain, dapi = self._new_generation(ports=self._api_ports)
        self._launch(chain, dapi)
        requester = chain.keys["requester"]
        self.chain.send(requester, requester.address, 1)  # puts the requester's public key on chain
        self._wait_first_serving()

    def _warm_start(self, snap: Snapshot) -> str | None:
        """A copy of the snapshot, every port but the API node's allocated anew; None when it serves, else why not."""
        ports = {k: int(v) for k, v in snap.meta["api_ports"].items()}
        if self._api_ports is not None and self._api_ports != ports:
            return "this testnet's mocks were started for other API node ports"
        busy = [f"{name} {port}" for name, port in ports.items() if port_is_listening(port)]
        if busy:
            return f"the API node's ports ({', '.join(busy)}) are in use (its public URL is on chain: they must be these)"
        gen, chain, dapi = self._new_generation(ports=ports)

        def adopt() -> None:
            chain.denom = snap.meta["denom"]
            chain.adopt_keys(snap.meta["mnemonics"])
            chain.configure_node()

        def serve() -> None:
            self._launch(chain, dapi, retarget=True)
            self.wait_nodes_inference(timeout_s=self.inference_timeout_s)
            self.wait_serving(timeout_s=self.inference_timeout_s)

        return try_restore(snap, gen, adopt=adopt, serve=serve, stop=self._stop_chain_and_api, progress=self.progress)

    def _launch(self, chain: GonkaChain, dapi: DecentralizedApi, *, retarget: bool = False) -> None:
        """Chain, chaos proxy and API node up; the harness's clients on them."""
        # lazy: cosmpy, protobuf, model and proxy code load when a testnet starts, not with pytest
        from harness.chain import ChainClient
        from harness.cometbft import BlockTimeline, RpcClient

        logs = self.workdir / "logs"
        assert self.mocks is not None
        chain.start()
        api_chain = chain.rpc_url
        if self.use_chaos:  # its own process: a pause of the test process must not hold the API node's chain back
            # lazy: cosmpy, protobuf, model and proxy code load when a testnet starts, not with pytest
            from harness.chaos.process import ChaosProxyProcess

            self.proxy = ChaosProxyProcess(chain.rpc_url, seed=self.opts.chaos_seed or 0, log_dir=logs)
            self.proxy.start()
            api_chain = self.proxy.url
        dapi.chain_url, dapi.mlnodes = api_chain, self.mlnodes
        if retarget:  # a snapshot's config: this run's chain URL, keyring and MLNodes
            dapi.retarget()
        dapi.start()
        self.rpc = RpcClient(chain.rpc_url)
        self.chain = ChainClient(chain.rpc_url, denom=chain.denom)
        self.timeline = BlockTimeline(chain.rpc_url.replace("http://", "ws://") + "/websocket")
        self.timeline.start()
        self.api = ApiClient(
            dapi.public_url,
            dapi.admin_url,
            timeout_s=30,
            signer=RequestSigner(chain.keys["requester"], transfer_address=chain.keys["genesis"].address),
        )
        self.endpoints = Endpoints(
            chain_rpc=chain.rpc_url,
            api_chain_rpc=api_chain,
            api_public=dapi.public_url,
            api_admin=dapi.admin_url,
            api_callback=dapi.callback_url,
            chaos_control=self.proxy.control_url if self.proxy else None,
            nginx=self.mocks.nginx[0].url if self.mocks.nginx else None,
        )
        self.info.validator_mnemonics = [chain.mnemonics["genesis"]]
        self.voting_period_blocks = self.chain.earliest_upgrade_height()[1]["voting_blocks"]

    def _wait_first_serving(self) -> None:
        try:
            self.wait_nodes_inference(timeout_s=FIRST_INFERENCE_TIMEOUT_S)
            self.wait_serving(timeout_s=FIRST_INFERENCE_TIMEOUT_S)
        except WaitTimeout as e:
            raise WaitTimeout(f"{e}\n{self.epoch_diagnosis()}") from None

    def epoch_diagnosis(self) -> str:
        """What the chain's own log says about its PoC epochs (for a failed start)."""
        try:
            return epoch_diagnosis((self.workdir / "logs" / "inferenced.log").read_text(errors="replace"))
        except OSError:
            return "chain log: not readable"

    def wait_serving(self, *, timeout_s: float) -> None:
        """Until a signed chat is answered 200 through the real API node (its participant is in an active epoch
        group and no PoC phase is running): the point from which a user would call the network up."""
        last: list[ChatResult] = []

        def answered() -> bool:
            last[:] = [self.api.chat("is the network serving?")]
            return last[0].ok

        wait_until(
            answered,
            timeout_s=timeout_s,
            what="a signed chat answered 200 through the real API node",
            interval_s=1.0,
            evidence=lambda: f"last answer: HTTP {last[0].status} {last[0].body[:400]!r}" if last else "no answer yet",
            hint="a real node serves once its first PoC epoch made its participant active; see the decentralized-api log",
            progress=lambda: f"last answer: HTTP {last[0].status}, chain height {self.rpc.height()}" if last else "no answer yet",
        )

    def _stop_chain_and_api(self) -> None:
        for part in ("dapi", "proxy", "timeline", "chain_node", "chain"):
            obj = getattr(self, part)
            if obj is not None:
                try:
                    obj.close() if part == "chain" else obj.stop()
                finally:
                    setattr(self, part, None)

    # -- the contract ----------------------------------------------------------------------------------------------------
    def _dapi(self, participant: str | None) -> DecentralizedApi:
        self.participant(participant)  # one participant: None or "p1"; anything else is refused, naming it
        assert self.dapi is not None
        return self.dapi

    def stop_api(self, participant: str | None = None) -> None:
        self._dapi(participant).stop()

    def start_api(self, participant: str | None = None) -> None:
        self._dapi(participant).start()

    def kill_api(self, participant: str | None = None) -> None:
        self._dapi(participant).kill()

    def reset_api_state(self, participant: str | None = None) -> None:
        self._dapi(participant).reset_state()

    def rebuild_chain(self) -> None:
        """A fresh chain and API node (new homes, new keys, the same public port); the mocks stay, reset."""
        old = self.workdir / f"gen-{self._generation}"
        self._stop_chain_and_api()
        self.mlnodes_reset(scenarios=True)
        if self.mocks is not None:
            self.mocks.reset_nginx(self.opts.start_version)
        shutil.rmtree(old, ignore_errors=True)
        self._start_chain_and_api()
        self.dirty = False

    def mock_sets(self) -> list[LocalMocks]:
        return [self.mocks] if self.mocks is not None else []

    def child_pids(self) -> list[dict[str, Any]]:
        parts = [("inferenced", self.chain_node), ("decentralized-api", self.dapi)]
        return self.running([*parts, *(self.mocks.processes() if self.mocks else [])])

    def keyring_file(self) -> Path:
        """A harness keyring (mode 0600) with this chain's test keys `genesis` (the validator) and `requester`."""
        import json
        import os

        assert self.chain_node is not None
        path = self.workdir / "keys.json"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({n: self.chain_node.mnemonics[n] for n in ("genesis", "requester")}, f, indent=1)
        return path

    def api_state(self) -> dict[str, Any]:
        """The real API node's persisted state (current_node_version, node_versions, upgrade_plan), for bundles."""
        return self.dapi.state() if self.dapi else {}


def epoch_diagnosis(chain_log: str) -> str:
    """The chain log's last PoC-epoch lines, and whether the participant is out for good (no active participant in
    the last epoch: a single-validator chain never gets one back)."""
    import re

    text = re.sub(r"\x1b\[[0-9;]*m", "", chain_log)
    keys = ("ComputeNewWeights: Final summary", "No validations for participant", "window is closed", "No hardware nodes")
    lines = [line for line in text.splitlines() if any(k in line for k in keys)][-6:]
    summaries = [line for line in lines if "Final summary" in line]
    if summaries and "totalActiveParticipants=0" in summaries[-1]:
        hint = (
            "the participant is not active: a PoC batch or validation missed its window (a machine this loaded is too "
            "slow for the test epoch's PoC phases) and a single-validator chain never gets it back; start again on a "
            "less loaded machine"
        )
    else:
        hint = "the chain's epochs look healthy; see the decentralized-api log"
    return "chain PoC epochs (inferenced log):\n  " + "\n  ".join(lines or ["(no PoC epoch yet)"]) + f"\nhint: {hint}"
