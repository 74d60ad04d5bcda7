"""The participants of a testnet and their MLNodes, as scenarios ask for them (`ParticipantSpec`, `NodeSpec`) and see
them (`Participant`, `MLNodeEndpoint`). Part of the Testnet contract (harness/backends/contract.py re-exports every
name here)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.mlnode.lifecycle import MLNodeLifecycle


@dataclass(frozen=True)
class NodeSpec:
    """An MLNode a test asks for (CHOOSE_MLNODES: `testnet_with(nodes=(NodeSpec("a"), NodeSpec("b", split_ports=True)))`).
    `split_ports`: management and inference on two ports of one MLNode, like a real MLNode's API and vLLM ports.
    `lifecycle`: this MLNode's lifecycle modes (None: its participant's, else the run's `mlnode_lifecycle`)."""

    id: str
    split_ports: bool = False
    lifecycle: MLNodeLifecycle | None = None


@dataclass(frozen=True)
class MLNodeEndpoint:
    """One MLNode as the API node sees it, plus where to read what it received."""

    id: str
    host: str
    poc_port: int
    inference_port: int
    # WireMock admin base URLs that journal this node's traffic. Single topology: {"*": url} (one WireMock
    # per port; both ports may share one). Side-by-side: {version: url} for the WireMock behind nginx.
    journals: dict[str, str]
    poc_segment: str = ""
    inference_segment: str = ""
    models: tuple[str, ...] = ("Qwen/Qwen2.5-7B-Instruct",)
    max_concurrent: int = 10

    def registration(self) -> dict[str, Any]:
        """The JSON body of POST /admin/v1/nodes (upstream InferenceNodeConfig field names)."""
        return {
            "id": self.id,
            "host": self.host,
            "poc_port": self.poc_port,
            "poc_segment": self.poc_segment,
            "inference_port": self.inference_port,
            "inference_segment": self.inference_segment,
            "max_concurrent": self.max_concurrent,
            "models": {m: {"args": []} for m in self.models},
            "hardware": [],
        }


MAX_PARTICIPANTS = 5
PARTICIPANT_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")  # it names MLNodes, processes, files


@dataclass(frozen=True)
class ParticipantSpec:
    """A participant a test asks for (PARTICIPANTS): `testnet_with(participants=3)` gives three default ones;
    `testnet_with(participants=(ParticipantSpec(), ParticipantSpec(api_overrides={"switch_offset": 1})))` one with a
    late-switching API node. Empty/None fields take the run's value.

    id: "p<i>" by default. power: its validator's voting power. nodes: its MLNodes (ids are prefixed with the
    participant id in a network). topology: "single" or "side-by-side" for its MLNodes. api_overrides: profile knobs
    of its API node only (over the run's). mlnode_versions: the versions its MLNodes serve; leave one out to model
    an operator who did not deploy that version in time (single topology: requests to it find no mapping, 404).
    lifecycle: its MLNodes' lifecycle modes (MLNodeLifecycle; None: the run's `mlnode_lifecycle`; a NodeSpec's own
    lifecycle wins).

    A network of mixed API node builds: api_profile (embedded backend): the behaviour profile of its model API node
    (`reference`, `pr228`), over the run's --api-profile. gonka_bin (gonka backend): the directory its own
    `decentralized-api` comes from (every chain node runs the first participant's `inferenced`: one chain, one chain
    binary). Each backend refuses the other's field, naming the one it takes."""

    id: str = ""
    power: int = 10
    nodes: tuple[NodeSpec, ...] = (NodeSpec("mlnode-1"),)
    topology: str | None = None
    api_overrides: dict[str, Any] = field(default_factory=dict)
    mlnode_versions: tuple[str, ...] | None = None
    lifecycle: MLNodeLifecycle | None = None
    api_profile: str | None = None
    gonka_bin: str | Path | None = None


def participant_specs(value: Any, *, nodes: tuple[NodeSpec, ...] | None = None) -> tuple[ParticipantSpec, ...]:
    """`participants=N` or a sequence of ParticipantSpec -> specs with their ids filled in (p1, p2, ...); `nodes`
    (the testnet's nodes= option) gives every default participant those MLNodes."""
    if isinstance(value, bool) or not isinstance(value, int | list | tuple):
        raise ConfigError(f"participants: expected a count 1..{MAX_PARTICIPANTS} or ParticipantSpecs, got {value!r}")
    if isinstance(value, int):
        if not 1 <= value <= MAX_PARTICIPANTS:
            raise ConfigError(f"participants: {value} is out of range; run 1 to {MAX_PARTICIPANTS} participants")
        value = [ParticipantSpec(nodes=nodes) if nodes else ParticipantSpec() for _ in range(value)]
    if not 1 <= len(value) <= MAX_PARTICIPANTS:
        raise ConfigError(f"participants: {len(value)} given; run 1 to {MAX_PARTICIPANTS} participants")
    out: list[ParticipantSpec] = []
    for i, spec in enumerate(value, start=1):
        if not isinstance(spec, ParticipantSpec):
            raise ConfigError(f"participants[{i - 1}]: expected a ParticipantSpec, got {spec!r}")
        spec = spec if spec.id else replace(spec, id=f"p{i}")
        if not PARTICIPANT_ID_RE.fullmatch(spec.id):
            raise ConfigError(f"participants[{i - 1}]: id {spec.id!r} must be 1-32 letters, digits, '-' or '_'")
        out.append(spec)
    ids = [s.id for s in out]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ConfigError(f"participants: id {dup[0]!r} is given twice; every participant needs its own id")
    return tuple(out)


@dataclass(eq=False)
class Participant:
    """One participant of the network as scenarios and the audit see it: a validator (its key and voting power),
    its API node (client and URLs) and its MLNodes. A backend keeps `api` current across API-node restarts."""

    id: str
    mlnodes: list[MLNodeEndpoint]
    api: Any  # harness.clients.api.ApiClient
    api_public: str
    api_admin: str
    power: int = 0
    # the validator's key: account `validator_index` of this mnemonic ("" where the harness holds no key of it)
    validator_mnemonic: str = field(default="", repr=False)
    validator_index: int = 0
    api_under_test: str = ""  # e.g. "model apinode, profile reference, knobs {'switch_offset': 1}"
    # the chaos proxy on its API node's chain connection (ChaosControl: faults, deliveries, holds); None: there is none
    chain_proxy: Any = field(default=None, repr=False)
    _key: Any = field(default=None, init=False, repr=False)

    @property
    def node_ids(self) -> list[str]:
        return [n.id for n in self.mlnodes]

    @property
    def validator(self) -> Any:
        """The validator's signing key (harness.chain.keys.Key); None where the harness holds none."""
        if self._key is None and self.validator_mnemonic:
            # lazy: the key code (ecdsa) loads when a key is used, not with pytest
            from harness.chain.keys import Key

            self._key = Key.from_mnemonic(self.validator_mnemonic, index=self.validator_index, name=f"validator-{self.id}")
        return self._key

    def to_dict(self) -> dict[str, Any]:
        """For the state file `harness up` writes (the API client is not kept)."""
        return {
            "id": self.id,
            "api_public": self.api_public,
            "api_admin": self.api_admin,
            "mlnodes": [asdict(n) for n in self.mlnodes],
            "power": self.power,
            "validator_mnemonic": self.validator_mnemonic,
            "validator_index": self.validator_index,
            "api_under_test": self.api_under_test,
        }


def participant_nodes(participants: Iterable[Participant]) -> dict[str, list[str]]:
    """{participant id: its MLNode ids}: what the audit's network view groups requests by."""
    return {p.id: p.node_ids for p in participants}
