"""The one written `Testnet` contract every backend implements, and the capabilities a backend may lack.

Scenarios and `harness.drive` use only what is declared here; they never import a backend class. A scenario that
needs more than every backend offers says so with `@pytest.mark.requires(Capability.X, ...)`: on a backend without
it the test is skipped with a reason naming the capability and the backend.

    testnet.info                       TestnetInfo: backend, chain id, block time, start version, the API node under test
    testnet.capabilities               frozenset[Capability]
    testnet.endpoints.chain_rpc        http://127.0.0.1:PORT   CometBFT JSON-RPC + /websocket (what the harness uses)
    testnet.endpoints.api_chain_rpc    what the API node is pointed at (the chaos proxy when one is in front)
    testnet.endpoints.api_public       POST /v1/chat/completions, GET /v1/status
    testnet.endpoints.api_admin        /admin/v1/nodes ...
    testnet.mlnodes[i]                 MLNode mocks: id, ports, WireMock admin URL per version (side-by-side) or one
    testnet.participants[i]            Participant: id, validator key + voting power, its API node (api, URLs), its
                                       MLNodes; participants[0] is the one testnet.api and testnet.mlnodes name
    testnet.rpc / chain / timeline     RpcClient, ChainClient, BlockTimeline (NewBlock over the websocket)
    testnet.api                        ApiClient (signs chat requests when the API node demands it)
    testnet.participant(id) / all_mlnodes()  one participant by id (None: the first) / every participant's MLNodes
    testnet.validator_keys()           keys that can propose and vote (every participant's validator)
    testnet.voting_period_blocks       blocks a proposal's voting period takes (for a scenario's own lead time)
    testnet.wait_nodes_inference()     every MLNode INFERENCE in the API node's admin view
    testnet.mlnodes_reset()            clear the journals (scenarios=True also resets mock state; REBUILD only)
    testnet.rebuild_chain()            REBUILD: fresh chain + API node, same mocks
    testnet.configure_api(...)         MODEL_API: the model API node's profile and knobs from the next rebuild on
    testnet.stop_api() / start_api()   RESTART_API (participant=ID: that participant's API node; default the first)
    testnet.kill_api()                 RESTART_API: SIGKILL the API node (a crash: no shutdown, no last state write);
                                       start_api() brings it back on what it had persisted
    testnet.reset_api_state()          RESTART_API, API node stopped: remove what it persisted, so that its next start
                                       is its first (the operator's config only)
    testnet.proxy                      CHAOS_PROXY: the chaos proxy in front of the first participant's chain connection
                                       (seed, add_fault, clear, reset, history); None without one
    testnet.mock_sets() / mlnode_loading()  the MLNode mock sets the harness runs (none on a backend that runs no
                                       mocks) / slow start: per MLNode and version, its first request and when it loaded
    testnet.logs()                     {component: log file path} for the failure bundle
    testnet.close() / closed           tear everything down (idempotent; also on failure and Ctrl-C) / whether it was
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Self, runtime_checkable

from harness.backends.participants import (  # re-exported: part of the contract (__all__)
    MAX_PARTICIPANTS,
    PARTICIPANT_ID_RE,
    MLNodeEndpoint,
    NodeSpec,
    Participant,
    ParticipantSpec,
    participant_nodes,
    participant_specs,
)
from harness.errors import ConfigError

if TYPE_CHECKING:
    from harness.chaos.control import ChaosControl

__all__ = [
    "MAX_PARTICIPANTS",
    "OPTION_NEEDS",
    "PARTICIPANT_ID_RE",
    "WHY",
    "Capability",
    "CapabilityMissing",
    "Endpoints",
    "MLNodeEndpoint",
    "NodeSpec",
    "Participant",
    "ParticipantSpec",
    "Testnet",
    "TestnetInfo",
    "missing_text",
    "participant_nodes",
    "participant_specs",
    "require",
    "unmet_options",
]


class Capability(StrEnum):
    """What a backend can do beyond the contract's core (chain, API node, mocks, journals, governance)."""

    RESTART_API = "restart_api"  # stop_api()/kill_api()/start_api(), reset_api_state(): down, crashed, back, wiped
    REBUILD = "rebuild"  # rebuild_chain(): a fresh chain and API node between tests (scenarios start at v0.3.8)
    MODEL_API = "model_api"  # the API node is our model: profiles, knobs, /admin/v1/debug/* (pool, state, PoC)
    ADMIN_RECONCILE = "admin_reconcile"  # admin disable/enable makes the API node reconcile its MLNodes at once
    POC_ON_DEMAND = "poc_on_demand"  # the harness can start a PoC cycle when it wants (model's debug endpoint)
    CHAIN_POC = "chain_poc"  # the chain's own epochs run PoC phases that make the API node call its MLNodes
    CHAOS_PROXY = "chaos_proxy"  # a chaos proxy the harness controls between the API node and the chain (seeded, history)
    SIDE_BY_SIDE = "side_by_side"  # MLNodes behind real nginx, one WireMock per version
    CHOOSE_MLNODES = "choose_mlnodes"  # a test may ask for its own MLNodes (nodes=..., split ports)
    PARTICIPANTS = "participants"  # a test may ask for several participants (participants=N or ParticipantSpecs)
    MLNODE_LIFECYCLE = "mlnode_lifecycle"  # the harness runs the MLNode mocks: exclusive and slow-start modes per MLNode


class CapabilityMissing(ConfigError):
    """A scenario asked a backend for something it cannot do."""


def require(testnet: Any, *needed: Capability) -> None:
    """Raise CapabilityMissing naming what is missing and on which backend (call sites outside pytest)."""
    missing = [c for c in needed if c not in testnet.capabilities]
    if missing:
        raise CapabilityMissing(missing_text(testnet.info.backend, missing))


def missing_text(backend: str, missing: Iterable[Capability]) -> str:
    names = ", ".join(sorted(c.value for c in missing))
    return f"backend {backend!r} lacks capability {names} ({', '.join(WHY[c] for c in missing)})"


WHY: dict[Capability, str] = {
    Capability.RESTART_API: "it cannot stop and start the API node",
    Capability.REBUILD: "it cannot give each test a fresh chain",
    Capability.MODEL_API: "its API node is not the harness's model (no profiles, knobs or debug endpoints)",
    Capability.ADMIN_RECONCILE: "admin disable/enable does not make its API node reconcile",
    Capability.POC_ON_DEMAND: "the harness cannot start a PoC cycle on it",
    Capability.CHAIN_POC: "its chain runs no PoC phases the API node follows",
    Capability.CHAOS_PROXY: "it has no chaos proxy the harness controls in front of the chain",
    Capability.SIDE_BY_SIDE: "it cannot run MLNodes behind nginx",
    Capability.CHOOSE_MLNODES: "a test cannot choose its MLNodes",
    Capability.PARTICIPANTS: "it runs one participant (one validator, one API node)",
    Capability.MLNODE_LIFECYCLE: "it does not run the MLNode mocks itself (no exclusive or slow-start modes)",
}


# Run options a scenario may need (`@pytest.mark.requires(..., versions=3, api_profile="reference")`): option ->
# (is it met?, what to say). A scenario whose need is not met is skipped with the option named, like a capability.
OPTION_NEEDS: dict[str, tuple[Any, str]] = {
    "versions": (lambda opts, n: len(opts.versions) >= n, "needs at least {want} versions in --versions, got {have}"),
    "api_profile": (lambda opts, p: opts.api_profile == p, "needs --api-profile {want} (it asserts that contract), got {have}"),
    "topology": (lambda opts, t: opts.topology == t, "needs --topology {want}, got {have}"),
}


def unmet_options(opts: Any, needs: dict[str, Any]) -> list[str]:
    """Reasons, one per unmet option need (`versions=3`, `api_profile="reference"`, `topology="single"`)."""
    out = []
    for option, want in sorted(needs.items()):
        if option not in OPTION_NEEDS:
            raise ConfigError(f"requires(): unknown option need {option!r}; known: {', '.join(sorted(OPTION_NEEDS))}")
        met, text = OPTION_NEEDS[option]
        if not met(opts, want):
            have = ",".join(opts.versions) if option == "versions" else getattr(opts, option)
            out.append(text.format(want=want, have=have))
    return out


@dataclass(frozen=True)
class Endpoints:
    chain_rpc: str
    api_chain_rpc: str
    api_public: str
    api_admin: str
    api_callback: str = ""
    chaos_control: str | None = None
    nginx: str | None = None

    @property
    def chain_ws(self) -> str:
        return self.chain_rpc.replace("http://", "ws://", 1).rstrip("/") + "/websocket"


@dataclass
class TestnetInfo:
    """Static facts about a running testnet that scenarios need (block time, versions, what is under test)."""

    __test__ = False
    backend: str
    chain_id: str
    block_time_s: float
    start_version: str
    api_profile: str
    topology: str
    validator_mnemonics: list[str] = field(default_factory=list)
    # "model": our API node (harness apinode); "upstream": Gonka's decentralized-api; "unknown": an external testnet
    api_kind: str = "model"
    # One line naming the API node under test, for report headers and failure bundles, e.g.
    # "model apinode, profile reference" or "decentralized-api main@312044d2 (sha256 4f1c...)"
    api_under_test: str = ""
    # The same for the chain: "model simnet" or "inferenced main@312044d2 (sha256 ...)"
    chain_under_test: str = ""
    # The API node's worker-client refresh tick, when it refreshes on one (the pr228 contract's grace); None: the
    # contract's default (PR #228's 30 s)
    api_refresh_tick_s: float | None = None
    # Real binaries of a revision whose behaviour docs/upstream-results.md records: "main" or "pr228"; else ""
    upstream_revision: str = ""
    # The delivery clock's holds (harness/drive/switch_holds.py): NewBlock(B) held pre_hold_ms after B-1, NewBlock(B+1)
    # at most hold_ms until the API node shows its switch; sized for how fast the API node under test reacts
    pre_hold_ms: int = 1000
    hold_ms: int = 4000

    def under_test(self) -> str:
        return f"API node: {self.api_under_test or self.api_kind}; chain: {self.chain_under_test or 'unknown'}"


@runtime_checkable
class Testnet(Protocol):
    """What every backend returns. Optional members raise CapabilityMissing when the capability is absent."""

    info: TestnetInfo
    capabilities: frozenset[Capability]
    endpoints: Endpoints
    mlnodes: list[MLNodeEndpoint]
    participants: list[Participant]
    rpc: Any  # harness.cometbft.RpcClient
    chain: Any  # harness.chain.ChainClient
    timeline: Any  # harness.cometbft.BlockTimeline
    api: Any  # harness.clients.api.ApiClient
    voting_period_blocks: int  # blocks a proposal's voting period takes on this chain (scenarios' lead times)
    dirty: bool  # the chain moved away from the start version; REBUILD backends rebuild before the next test
    last_runner: Any  # the UpgradeRunner that last ran a hop (failure bundles report its audit)
    proxy: ChaosControl | None  # CHAOS_PROXY: a ChaosProxyProcess, or the docker backend's container's ChaosControl

    def start(self) -> Self: ...
    def close(self) -> None: ...
    @property
    def closed(self) -> bool: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *exc: object) -> None: ...
    def validator_keys(self) -> list[Any]: ...
    def participant(self, participant_id: str | None) -> Participant: ...
    def all_mlnodes(self) -> list[MLNodeEndpoint]: ...
    def wait_nodes_inference(self, timeout_s: float | None = None) -> None: ...
    def mlnodes_reset(self, *, scenarios: bool = False) -> None: ...
    def rebuild_chain(self) -> None: ...
    def configure_api(
        self, *, profile: str, overrides: dict[str, Any] | None = None, intervals: dict[str, float] | None = None
    ) -> None: ...
    def stop_api(self, participant: str | None = None) -> None: ...
    def start_api(self, participant: str | None = None) -> None: ...
    def kill_api(self, participant: str | None = None) -> None: ...
    def reset_api_state(self, participant: str | None = None) -> None: ...
    def mock_sets(self) -> list[Any]: ...
    def mlnode_loading(self) -> list[Any]: ...
    def logs(self) -> dict[str, Path]: ...
    def now_ms(self) -> int: ...
