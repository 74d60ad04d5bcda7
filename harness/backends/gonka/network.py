"""A network of real participants: N genesis validators of one real `inferenced` chain, each running its own chain
node, its own `decentralized-api` and its own WireMock MLNodes, all on 127.0.0.1.

    with GonkaNetworkTestnet(RunOptions(backend="gonka", gonka_bin=...), workdir, participants=3) as tn:
        [p.id for p in tn.participants]       # ["p1", "p2", "p3"], each with its real API node and its MLNodes
        tn.validator_keys()                   # the three validators: a proposal passes with their votes

Genesis, as a multi-validator genesis ceremony: every participant's home is initialised with its own keys
(`genesis`: the validator and the participant's account; `genesis_warm`: its ML operational address); the first
participant's genesis funds every participant's account and the requester; each participant signs its gentx against
that genesis (with its API node's public URL and ML operational address where the binary has those flags: the
gentx then also writes a genparticipant transaction, MsgSubmitNewParticipant with its authz grants); the first
collects every gentx and genparticipant file (`patch-genesis` finds `genparticipant-<node id>.json`, so the files
keep their names), applies the test parameters and validates; every home gets that genesis, and every node has the
others as persistent peers. The chain starts once enough voting power is online, so the nodes start side by side.

Every participant's API node reaches its own chain node through its own chaos proxy (faults; the delivery clock's
timing and holds, harness/audit/contracts.py). Every participant is a genesis participant (`is_genesis: true`);
none joins later through MsgSubmitNewParticipant sent by a running API node (what upstream's local test net does for
its joining nodes). At the first PoC epoch the chain sets each validator's power from its PoC weight, so the `power`
of a ParticipantSpec is not used here.
A network of mixed API node builds: `ParticipantSpec(gonka_bin=DIR)` runs that participant's `decentralized-api` from
DIR (the others' from --gonka-bin). The chain binaries must agree on every block, so every chain node runs the first
participant's `inferenced`; the report header names each participant's build, and a mixed network is judged by the
contract (no single revision's documented signature applies).
Chat requests are signed by the requester for the API node they are sent to (its participant is the transfer
agent); the chain picks the executor, so a chat sent to one participant may be served by another's MLNode.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.backends.base import BaseTestnet, side_by_side, teardown
from harness.backends.contract import (
    Capability,
    Endpoints,
    NodeSpec,
    Participant,
    ParticipantSpec,
    participant_specs,
)
from harness.backends.gonka.binaries import GonkaBinaries, check_sandbox, gonka_info
from harness.backends.gonka.chain import GENESIS_FUNDS, KEYRING, REQUESTER_FUNDS, SELF_DELEGATION, GonkaChain, set_toml
from harness.backends.gonka.dapi import DecentralizedApi
from harness.backends.gonka.genesis import ChainParams, native_denom
from harness.backends.gonka.snapshot import Snapshot, SnapshotCache, start_with_cache, try_restore
from harness.backends.mocks import LocalMocks
from harness.chain import ChainClient
from harness.chain.keys import COIN_TYPE, Key
from harness.chaos.process import ChaosProxyProcess
from harness.clients.api import ApiClient, RequestSigner
from harness.cometbft import BlockTimeline, RpcClient
from harness.errors import ConfigError, StartupError
from harness.options import RunOptions
from harness.util.ports import port_is_listening
from harness.util.wait import wait_until

if TYPE_CHECKING:
    from harness.clients.api import ChatResult

CAPABILITIES = frozenset(
    {Capability.RESTART_API, Capability.REBUILD, Capability.CHAIN_POC, Capability.PARTICIPANTS, Capability.CHAOS_PROXY}
)
FIRST_SERVING_TIMEOUT_S = 300.0  # the first PoC epoch (hardware sync, PoC, validation by every participant)


def init_network(chains: dict[str, GonkaChain], params: ChainParams) -> None:
    """The genesis ceremony of the module docstring; the first chain of `chains` collects."""
    first = next(iter(chains.values()))
    for c in chains.values():
        _init_home(c, params, requester=c is first)
    for c in chains.values():
        first.run("genesis", "add-genesis-account", c.addresses["genesis"], f"{GENESIS_FUNDS}{first.denom}", *KEYRING)
    first.run("genesis", "add-genesis-account", "requester", f"{REQUESTER_FUNDS}{first.denom}", *KEYRING)
    gentx_flags = "--url" in first.help_of("genesis", "gentx")
    for c in chains.values():
        if c is not first:
            shutil.copy(first.home / "config" / "genesis.json", c.home / "config" / "genesis.json")
        gentx = ["genesis", "gentx", "genesis", f"{SELF_DELEGATION}{c.denom}", "--chain-id", params.chain_id, *KEYRING]
        gentx += ["--moniker", c.workdir.parent.name]
        if gentx_flags:
            gentx += ["--url", c.public_url, "--ml-operational-address", c.addresses["genesis_warm"]]
        c.run(*gentx)
        if c is not first:
            for sub in ("gentx", "genparticipant"):
                (first.home / "config" / sub).mkdir(exist_ok=True)
                for f in (c.home / "config" / sub).glob("*.json"):
                    shutil.copy(f, first.home / "config" / sub / f.name)
    first.run("genesis", "collect-gentxs")
    if "patch-genesis" in first.help_of("genesis"):
        first.run("genesis", "patch-genesis")
    first._apply_params(first.home / "config" / "genesis.json")
    for c in chains.values():
        if c is not first:
            shutil.copy(first.home / "config" / "genesis.json", c.home / "config" / "genesis.json")
        c.configure_node()
    connect_peers(chains)


def connect_peers(chains: dict[str, GonkaChain]) -> None:
    """Every node has the others as persistent peers, at their p2p ports of this run."""
    node_ids = {}
    for pid, c in chains.items():
        comet = "comet" if "comet" in c.help_of() else "tendermint"  # the SDK's name for it, new and old
        node_ids[pid] = c.run(comet, "show-node-id").strip().splitlines()[-1]
    for pid, c in chains.items():
        config = c.home / "config" / "config.toml"
        peers = ",".join(f"{node_ids[o]}@127.0.0.1:{chains[o].ports['p2p']}" for o in chains if o != pid)
        set_toml(config, "p2p", "persistent_peers", peers)
        set_toml(config, "p2p", "addr_book_strict", "false")
        set_toml(config, "p2p", "allow_duplicate_ip", "true")


def participant_binaries(specs: tuple[ParticipantSpec, ...], run_bins: GonkaBinaries) -> dict[str, GonkaBinaries]:
    """Each participant's binaries: its own `gonka_bin` directory (a network of mixed API node builds), else the run's
    (--gonka-bin). Its chain node runs the first participant's `inferenced` whatever its own directory holds."""
    out: dict[str, GonkaBinaries] = {}
    for s in specs:
        if s.api_profile is not None:
            raise ConfigError(
                f"participant {s.id}: api_profile is the model API node's; on --backend gonka give the participant its "
                "own decentralized-api build with gonka_bin=DIR"
            )
        out[s.id] = run_bins if s.gonka_bin is None else GonkaBinaries.locate(s.gonka_bin)
    return out


def _init_home(c: GonkaChain, params: ChainParams, *, requester: bool) -> None:
    c.workdir.mkdir(parents=True, exist_ok=True)
    moniker = c.workdir.parent.name
    c.run("init", moniker, "--chain-id", params.chain_id)
    c.denom = c.denom or native_denom(json.loads((c.home / "config" / "genesis.json").read_text()))
    c.run("init", moniker, "--chain-id", params.chain_id, "--default-denom", c.denom, "--overwrite")
    for name in ("genesis", "genesis_warm", *(("requester",) if requester else ())):
        out = c.run("keys", "add", name, *KEYRING, "--coin-type", str(COIN_TYPE), "--output", "json")
        created = json.loads(out[out.index("{") :])
        key = Key.from_mnemonic(created["mnemonic"], name=name)
        if key.address != created["address"]:
            raise StartupError(f"key {name}: inferenced made {created['address']}, the harness derives {key.address}")
        c.addresses[name], c.mnemonics[name], c.keys[name] = created["address"], created["mnemonic"], key


class GonkaNetworkTestnet(BaseTestnet):
    """Implements the Testnet contract with N real participants (see the module docstring)."""

    capabilities = CAPABILITIES
    inference_timeout_s = 120.0

    def __init__(
        self,
        opts: RunOptions,
        workdir: Path,
        *,
        participants: int | tuple[ParticipantSpec, ...] = 3,
        nodes: tuple[NodeSpec, ...] = (NodeSpec("mlnode-1"),),
        params: ChainParams | None = None,
        binaries: GonkaBinaries | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.opts = opts
        self.workdir = Path(workdir).resolve()
        run_bins = binaries or GonkaBinaries.locate(opts.gonka_bin, revision=opts.gonka_revision)
        self.params = params or ChainParams(start_version=opts.start_version)
        self.specs = participant_specs(participants, nodes=tuple(nodes))
        self.api_bins = participant_binaries(self.specs, run_bins)
        self.bins = self.api_bins[self.specs[0].id]  # every chain node runs the first participant's inferenced
        validators = f"{self.bins.describe('inferenced')}, {len(self.specs)} validators"
        super().__init__(gonka_info(self.bins, opts, self.params, chain_under_test=validators))
        builds = {pid: b.describe("decentralized-api") for pid, b in self.api_bins.items()}
        if len(set(builds.values())) > 1:  # judged by the contract, not by one revision's documented signature
            self.info.api_under_test = "mixed builds: " + "; ".join(f"{pid} {d}" for pid, d in builds.items())
            self.info.upstream_revision = ""
        self.mocks: dict[str, LocalMocks] = {}
        self.chains: dict[str, GonkaChain] = {}
        self.dapis: dict[str, DecentralizedApi] = {}
        self.proxies: dict[str, ChaosProxyProcess] = {}
        self.proxy: ChaosProxyProcess | None = None  # the first participant's
        self.views: list[Participant] = []
        self.voting_period_blocks = 0  # measured on the running chain (its voting period at its block time)
        self.cache = SnapshotCache.from_options(opts.gonka_cache)
        self.progress = progress or (lambda m: print(f"[gonka] {m}", flush=True))
        self._generation = 0
        self._api_ports: dict[str, dict[str, int]] = {}  # kept across rebuilds: the mocks' PoC callbacks name them

    @property
    def participants(self) -> list[Participant]:
        return self.views

    def validator_keys(self) -> list[Key]:
        return [c.keys["genesis"] for c in self.chains.values()]

    # -- lifecycle -----------------------------------------------------------------------------------------------------
    def _start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        check_sandbox(self.workdir / "sandbox-check")
        self._start_network()

    def _teardown_steps(self) -> tuple[Callable[[], object], ...]:
        return (self._stop_network, self._stop_mocks)

    def _stop_mocks(self) -> None:
        side_by_side([m.stop for m in self.mocks.values()])

    def _start_network(self) -> None:
        """From the snapshot cache when it has this network (harness/backends/gonka/snapshot.py), else cold: the
        genesis ceremony and the first PoC epoch, then a snapshot for the next time."""
        if not self.cache.enabled:
            self._cold_network()
            return
        key = self.cache.key(self.bins, self.params, specs=self.specs, versions=self.opts.versions,
                             topology=self.opts.topology, participants=len(self.specs))  # fmt: skip
        start_with_cache(self.cache, key, cold=self._cold_network, warm=self._warm_network, meta=self._snapshot_meta,
                         stop=self._stop_network, progress=self.progress)  # fmt: skip

    def _new_generation(self, ports: dict[str, dict[str, int]]) -> Path:
        """Chain and API node objects of every participant (not started); the mocks once, aimed at the API nodes."""
        self._generation += 1
        gen = self.workdir / f"gen-{self._generation}"
        self.chains, self.dapis = {}, {}
        for spec in self.specs:
            logs = self.workdir / "logs" / spec.id
            chain = GonkaChain(self.bins, gen / spec.id / "chain", self.params, public_url="", log_dir=logs)
            dapi = DecentralizedApi(self.api_bins[spec.id], gen / spec.id / "api", chain=chain, chain_url="", mlnodes=[],
                                    start_version=self.opts.start_version, ports=ports.get(spec.id), log_dir=logs)  # fmt: skip
            self._api_ports[spec.id] = dict(dapi.ports)
            chain.public_url = dapi.public_url
            self.chains[spec.id], self.dapis[spec.id] = chain, dapi
        if not self.mocks:
            for spec in self.specs:
                self.mocks[spec.id] = LocalMocks(
                    tuple(replace(n, id=f"{spec.id}-{n.id}") for n in spec.nodes),
                    self.opts.versions,
                    topology=spec.topology or self.opts.topology,
                    workdir=self.workdir,
                    validation_callback_url=f"{self.dapis[spec.id].callback_url}/v1/poc-batches",
                    mocks_dir=f"mocks-{spec.id}",
                    lifecycle=spec.lifecycle or self.opts.mlnode_lifecycle,
                    start_version=self.opts.start_version,
                )
            side_by_side([m.start for m in self.mocks.values()])
        return gen

    def _cold_network(self) -> None:
        self._new_generation(self._api_ports)
        init_network(self.chains, self.params)
        self._launch()
        requester = next(iter(self.chains.values())).keys["requester"]
        self.chain.send(requester, requester.address, 1)  # puts the requester's public key on chain
        self._wait_all_serving(FIRST_SERVING_TIMEOUT_S)

    def _launch(self, *, retarget: bool = False) -> None:
        """Every chain node (most of the voting power must be online for blocks), a chaos proxy each, every API node."""
        side_by_side([c.start for c in self.chains.values()])
        seed = self.opts.chaos_seed or 0
        self.proxies = {pid: ChaosProxyProcess(c.rpc_url, seed=seed, log_dir=self.workdir / "logs" / pid)
                        for pid, c in self.chains.items()}  # fmt: skip
        side_by_side([p.start for p in self.proxies.values()])
        self.proxy = next(iter(self.proxies.values()))
        for pid, dapi in self.dapis.items():
            dapi.chain_url, dapi.mlnodes = self.proxies[pid].url, self.mocks[pid].mlnodes
            if retarget:
                dapi.retarget()
        side_by_side([d.start for d in self.dapis.values()])
        self._connect()

    def _wait_all_serving(self, timeout_s: float) -> None:
        self.wait_nodes_inference(timeout_s=timeout_s)
        for p in self.views:
            self._wait_serving(p, timeout_s)

    def _snapshot_meta(self) -> tuple[Path, dict[str, Any]]:
        first = next(iter(self.chains.values()))
        meta = {
            "height": self.rpc.height(),
            "denom": first.denom,
            "participants": {
                pid: {"api_ports": self.dapis[pid].ports, "mnemonics": c.mnemonics} for pid, c in self.chains.items()
            },
            "under_test": self.info.under_test(),
        }
        return first.workdir.parent.parent, meta

    def _warm_network(self, snap: Snapshot) -> str | None:
        """A copy of the snapshot, every port but the API nodes' allocated anew; None when it serves, else why not."""
        parts = snap.meta["participants"]
        ports = {pid: {k: int(v) for k, v in p["api_ports"].items()} for pid, p in parts.items()}
        if set(ports) != {s.id for s in self.specs}:
            return f"its participants {sorted(ports)} are not this network's"
        if self.mocks and any(self._api_ports.get(pid) != ports[pid] for pid in ports):
            return "this network's mocks were started for other API node ports"
        busy = [f"{pid} {port}" for pid, pp in ports.items() for port in pp.values() if port_is_listening(port)]
        if busy:
            return f"API node ports in use ({', '.join(busy)}); each public URL is on chain: they must be these"
        gen = self._new_generation(ports)

        def adopt() -> None:
            for pid, chain in self.chains.items():
                chain.denom = snap.meta["denom"]
                chain.adopt_keys(parts[pid]["mnemonics"])
                chain.configure_node()
            connect_peers(self.chains)

        def serve() -> None:
            self._launch(retarget=True)
            self._wait_all_serving(self.inference_timeout_s)

        return try_restore(snap, gen, adopt=adopt, serve=serve, stop=self._stop_network, progress=self.progress)

    def _connect(self) -> None:

        first = next(iter(self.chains.values()))
        self.rpc = RpcClient(first.rpc_url)
        self.chain = ChainClient(first.rpc_url, denom=first.denom)
        self.timeline = BlockTimeline(first.rpc_url.replace("http://", "ws://") + "/websocket")
        self.timeline.start()
        requester = first.keys["requester"]
        self.views = []
        for spec in self.specs:
            chain, dapi = self.chains[spec.id], self.dapis[spec.id]
            signer = RequestSigner(requester, transfer_address=chain.keys["genesis"].address)
            view = Participant(
                id=spec.id,
                mlnodes=self.mocks[spec.id].mlnodes,
                api=ApiClient(dapi.public_url, dapi.admin_url, timeout_s=30, signer=signer),
                api_public=dapi.public_url,
                api_admin=dapi.admin_url,
                validator_mnemonic=chain.mnemonics["genesis"],
                api_under_test=self.api_bins[spec.id].describe("decentralized-api"),
                chain_proxy=self.proxies[spec.id],
            )
            view._key = chain.keys["genesis"]
            self.views.append(view)
        p1 = self.views[0]
        self.api, self.mlnodes = p1.api, p1.mlnodes
        proxy = self.proxies[p1.id]
        self.endpoints = Endpoints(first.rpc_url, proxy.url, p1.api_public, p1.api_admin,
                                   api_callback=self.dapis[p1.id].callback_url, chaos_control=proxy.control_url)  # fmt: skip
        self.info.validator_mnemonics = [first.mnemonics["genesis"]]
        self.voting_period_blocks = self.chain.earliest_upgrade_height()[1]["voting_blocks"]

    def _wait_serving(self, p: Participant, timeout_s: float) -> None:
        last: list[ChatResult] = []

        def answered() -> bool:
            last[:] = [p.api.chat("is the network serving?")]
            return last[0].ok

        wait_until(
            answered,
            timeout_s=timeout_s,
            what=f"a signed chat answered 200 through {p.id}'s real API node",
            interval_s=1.0,
            evidence=lambda: f"last answer: HTTP {last[0].status} {last[0].body[:400]!r}" if last else "no answer yet",
            hint="the network serves once the first PoC epoch made its participants active; see the logs per participant",
        )

    def _stop_network(self) -> None:

        steps = [*(d.stop for d in self.dapis.values()), *(p.stop for p in self.proxies.values())]
        steps += [c.stop for c in self.chains.values()]
        self.proxies, self.proxy = {}, None
        for part in ("timeline", "chain"):
            obj = getattr(self, part)
            if obj is not None:
                steps.append(obj.stop if part == "timeline" else obj.close)
                setattr(self, part, None)
        teardown("gonka network", steps)

    # -- the contract ----------------------------------------------------------------------------------------------------
    def stop_api(self, participant: str | None = None) -> None:
        self.dapis[self.participant(participant).id].stop()

    def start_api(self, participant: str | None = None) -> None:
        self.dapis[self.participant(participant).id].start()

    def kill_api(self, participant: str | None = None) -> None:
        self.dapis[self.participant(participant).id].kill()

    def reset_api_state(self, participant: str | None = None) -> None:
        self.dapis[self.participant(participant).id].reset_state()

    def rebuild_chain(self) -> None:
        """A fresh network (new homes, new keys, the same API ports); the mocks stay, reset."""
        old = self.workdir / f"gen-{self._generation}"
        self._stop_network()
        self.mlnodes_reset(scenarios=True)
        for m in self.mocks.values():
            m.reset_nginx(self.opts.start_version)
        shutil.rmtree(old, ignore_errors=True)
        self.chains, self.dapis = {}, {}
        self._start_network()
        self.dirty = False

    def logs(self) -> dict[str, Path]:
        """The mocks' logs, then each participant's chain node and API node (`p2-inferenced`)."""
        return super().logs() | {f"{p.parent.name}-{p.stem}": p for p in sorted((self.workdir / "logs").glob("*/*.log"))}

    def mock_sets(self) -> list[LocalMocks]:
        return list(self.mocks.values())

    def child_pids(self) -> list[dict[str, Any]]:
        parts: list[tuple[str, object]] = [(f"inferenced-{pid}", c) for pid, c in self.chains.items()]
        parts += [(f"decentralized-api-{pid}", d) for pid, d in self.dapis.items()]
        parts += [(f"chaos-proxy-{pid}", p) for pid, p in self.proxies.items()]
        parts += [p for m in self.mocks.values() for p in m.processes()]
        return self.running(parts)

    def keyring_file(self) -> Path:
        """A harness keyring (mode 0600): every participant's validator (`genesis-p1`, ...; `genesis` is p1's) and
        the `requester`."""
        import os

        first = next(iter(self.chains.values()))
        keys = {"genesis": first.mnemonics["genesis"], "requester": first.mnemonics["requester"]}
        keys.update({f"genesis-{pid}": c.mnemonics["genesis"] for pid, c in self.chains.items()})
        path = self.workdir / "keys.json"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(keys, f, indent=1)
        return path
