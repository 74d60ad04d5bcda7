"""What every backend's testnet shares: `BaseTestnet` (context manager, idempotent close, journal resets, the
INFERENCE wait, refusals for what a backend's capabilities leave out), the reference API node's config file,
resetting the mock journals, a teardown that runs every step even when one fails, and starting parts side by side.
The Testnet contract itself (what scenarios may use) is harness/backends/contract.py."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import yaml

from harness.backends.contract import Capability, Endpoints, TestnetInfo, require
from harness.backends.participants import MLNodeEndpoint, NodeSpec, Participant, ParticipantSpec
from harness.errors import ConfigError
from harness.mlnode import Journal
from harness.util.wait import wait_until

if TYPE_CHECKING:
    from harness.chaos.control import ChaosControl
    from harness.clients.api import ApiClient


@dataclass(frozen=True)
class TestnetRequest:
    """What a caller asks of a testnet beyond the run options (harness/backends/registry.py: a backend's `make`).
    `participants`: a count or the specs; `operator`: started by `harness up`/`harness demo`, whose commands judge on
    the chain clock (the embedded chain then holds H and H+1 itself); `network_mode`: docker's host or bridge."""

    __test__ = False

    nodes: tuple[NodeSpec, ...] | None = None
    participants: int | tuple[ParticipantSpec, ...] = 1
    chaos: bool = True
    voting_period_blocks: int | None = None
    api_overrides: dict[str, Any] | None = None
    api_intervals: dict[str, float] | None = None
    network_mode: str = "host"
    operator: bool = False

    @property
    def mlnodes(self) -> tuple[NodeSpec, ...]:
        """The MLNodes asked for (one, `mlnode-1`, by default)."""
        return tuple(self.nodes) if self.nodes else (NodeSpec("mlnode-1"),)

    @property
    def several(self) -> bool:
        """More than one participant asked for."""
        p = self.participants
        return len(p) > 1 if isinstance(p, tuple | list) else p != 1


def now_ms() -> int:
    return int(time.time() * 1000)


def write_reference_api_config(
    cfg_dir: Path,
    *,
    chain_url: str,
    start_version: str,
    profile: str,
    intervals: dict[str, float],
    api: dict[str, object],
    profile_overrides: dict[str, Any] | None = None,
) -> Path:
    """config.yaml for `harness apinode` (upstream key names); state and ready files live next to it."""
    cfg_dir.mkdir(parents=True, exist_ok=True)
    config = {
        "chain_node": {"url": chain_url},
        "current_node_version": start_version,
        "last_used_version": start_version,
        "nodes": [],
        "api": api,
        "intervals": intervals,
        "profile": profile,
        "profile_overrides": dict(profile_overrides or {}),
        "state_file": str(cfg_dir / "state.yaml"),
        "ready_file": str(cfg_dir / "ready.json"),
    }
    path = cfg_dir / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def config_lists_nodes(config_path: Path, mlnodes: Iterable[MLNodeEndpoint]) -> None:
    """Put the MLNodes into the reference API node's config file (`nodes`), as an operator's config lists them: an API
    node starting without state (its first start) then knows them before it syncs and acts on the chain's version."""
    config = yaml.safe_load(config_path.read_text())
    config["nodes"] = [n.registration() for n in mlnodes]
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))


def wait_nodes_inference(api: ApiClient, node_ids: Iterable[str], *, timeout_s: float) -> None:
    """Wait until GET /admin/v1/nodes shows every given node with current_status INFERENCE."""
    ids = set(node_ids)
    seen: dict[str, str] = {}

    def all_inference() -> bool:
        states = {n["node"]["id"]: n["state"]["current_status"] for n in api.nodes()}
        seen.clear()
        seen.update(states)
        return all(states.get(i) == "INFERENCE" for i in ids)

    wait_until(
        all_inference,
        timeout_s=timeout_s,
        what=f"MLNodes {sorted(ids)} INFERENCE in GET /admin/v1/nodes",
        evidence=lambda: json.dumps(api.nodes(), indent=1)[:2000],
        hint="check the API node log and the WireMock journal for the reconcile calls",
        progress=lambda: ", ".join(f"{i} {seen.get(i, '?')}" for i in sorted(ids)),
    )


def reset_journals(mlnodes: list[MLNodeEndpoint], *, scenarios: bool) -> None:
    """Clear every mock journal; with `scenarios`, also reset the mocks' per-version state machines."""

    for node in mlnodes:
        for url in node.journals.values():
            Journal(url).reset(scenarios=scenarios)


def teardown(label: str, steps: Iterable[Callable[[], object]]) -> None:
    """Run every step even if an earlier one fails; failures are printed (teardown must not hide the test's error)."""
    for step in steps:
        try:
            step()
        except Exception as e:
            print(f"{label} teardown: {getattr(step, '__name__', step)} failed: {type(e).__name__}: {e}")


def side_by_side(calls: Iterable[Callable[[], object]]) -> None:
    """Run the calls concurrently (e.g. every participant's start); wait for all, then raise the first failure in the
    order given, so the caller's teardown stops whatever did start."""
    from concurrent.futures import ThreadPoolExecutor

    calls = list(calls)
    if len(calls) <= 1:
        for call in calls:
            call()
        return
    with ThreadPoolExecutor(len(calls), thread_name_prefix="side-by-side") as pool:
        for f in [pool.submit(c) for c in calls]:
            f.result()


class BaseTestnet:
    """Mechanics every backend shares: context manager, idempotent close, journal resets, the INFERENCE wait,
    validator keys, and refusals for what a backend's capabilities leave out. Subclasses set `capabilities`,
    implement `_start()` and `_teardown_steps()`, and override what they support."""

    capabilities: frozenset[Capability] = frozenset()
    inference_timeout_s: float = 20.0
    proxy: ChaosControl | None = None  # CHAOS_PROXY backends set their chaos proxy here

    def __init__(self, info: TestnetInfo) -> None:
        self.info = info
        self.endpoints: Endpoints | None = None
        self.mlnodes: list[MLNodeEndpoint] = []
        self.rpc: Any = None
        self.chain: Any = None
        self.timeline: Any = None
        self.api: Any = None
        self.dirty = False
        self.last_runner: Any = None
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------------------------------------------
    def start(self) -> Self:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def _start(self) -> None:
        raise NotImplementedError

    def _teardown_steps(self) -> Iterable[Callable[[], object]]:
        return ()

    def __enter__(self) -> Self:
        # `tn = Testnet(...).start(); with tn:` must not start a second copy
        return self if self.endpoints is not None else self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Tear down in reverse order; every step runs even if an earlier one fails."""
        if self._closed:
            return
        self._closed = True
        teardown(f"{self.info.backend} testnet", self._teardown_steps())

    @property
    def closed(self) -> bool:
        return self._closed

    # -- shared behaviour ----------------------------------------------------------------------------------------------
    @property
    def participants(self) -> list[Participant]:
        """One participant unless the backend runs several (PARTICIPANTS): this testnet's API node and MLNodes, with
        the first validator key."""
        e = self.endpoints
        mnemonics = self.info.validator_mnemonics
        return [
            Participant(
                id="p1",
                mlnodes=self.mlnodes,
                api=self.api,
                api_public=e.api_public if e else "",
                api_admin=e.api_admin if e else "",
                validator_mnemonic=mnemonics[0] if mnemonics else "",
                api_under_test=self.info.api_under_test,
                chain_proxy=self.proxy,
            )
        ]

    def participant(self, participant_id: str | None) -> Participant:
        """The participant with this id (None: the first); ConfigError naming the ids there are."""
        parts = self.participants
        if participant_id is None:
            return parts[0]
        for p in parts:
            if p.id == participant_id:
                return p
        raise ConfigError(f"no participant {participant_id!r} in this testnet; its participants are {[p.id for p in parts]}")

    def all_mlnodes(self) -> list[MLNodeEndpoint]:
        """Every participant's MLNodes."""
        return [n for p in self.participants for n in p.mlnodes]

    def wait_nodes_inference(self, timeout_s: float | None = None) -> None:
        """Every participant's MLNodes INFERENCE in its own API node's admin view."""
        for p in self.participants:
            wait_nodes_inference(p.api, p.node_ids, timeout_s=timeout_s or self.inference_timeout_s)

    def mlnodes_reset(self, *, scenarios: bool = False) -> None:
        """Clear every mock's journal (every participant's); `scenarios=True` (REBUILD backends, while no API node
        runs) also puts the mocks' per-version state machines back to their start."""
        if scenarios:
            self._require(Capability.REBUILD)
        reset_journals(self.all_mlnodes(), scenarios=scenarios)
        if scenarios:
            for mocks in self.mock_sets():
                mocks.rearm()  # slow-start versions load again from their next first request

    def mock_sets(self) -> list[Any]:
        """The harness.backends.mocks.LocalMocks this testnet runs (none where the harness runs no mocks itself)."""
        return []

    def mlnode_loading(self) -> list[Any]:
        """Slow start: per MLNode and loading version, its first request and when it had loaded
        (harness.mlnode.slowstart.Loading); empty without slow-start MLNodes."""
        return [item for mocks in self.mock_sets() for item in mocks.loading()]

    def validator_keys(self) -> list[Any]:
        # lazy: the key code (ecdsa) loads when a key is used, not with pytest
        from harness.chain.keys import Key

        return [Key.from_mnemonic(m, name=f"validator-{i}") for i, m in enumerate(self.info.validator_mnemonics)]

    def now_ms(self) -> int:
        return int(time.time() * 1000)

    def logs(self) -> dict[str, Path]:
        """{component: log file} under `<workdir>/logs` (backends that run processes keep their logs there)."""
        workdir = getattr(self, "workdir", None)
        return {p.stem: p for p in sorted((Path(workdir) / "logs").glob("*.log"))} if workdir else {}

    @staticmethod
    def running(parts: Iterable[tuple[str, Any]]) -> list[dict[str, Any]]:
        """[{name, pid}] of the supervised processes among (name, service with a `proc`) that still run, for
        `harness down` (each leads its own process group)."""
        out: list[dict[str, Any]] = []
        for name, part in parts:
            proc = getattr(part, "proc", None)
            if proc is not None and proc.pid is not None and proc.is_running():
                out.append({"name": name, "pid": proc.pid})
        return out

    # -- refused unless a subclass supports them ----------------------------------------------------------------------
    def _require(self, *needed: Capability) -> None:
        require(self, *needed)

    def rebuild_chain(self) -> None:
        self._require(Capability.REBUILD)

    def configure_api(
        self, *, profile: str, overrides: dict[str, Any] | None = None, intervals: dict[str, float] | None = None
    ) -> None:
        """Only the model API node has profiles and knobs; elsewhere asking for anything but the defaults is refused."""
        if profile != self.info.api_profile or overrides or intervals:
            self._require(Capability.MODEL_API)

    def stop_api(self, participant: str | None = None) -> None:
        self._require(Capability.RESTART_API)

    def start_api(self, participant: str | None = None) -> None:
        self._require(Capability.RESTART_API)

    def kill_api(self, participant: str | None = None) -> None:
        """SIGKILL the API node (its whole process group), reaped before this returns: a crash, no clean shutdown."""
        self._require(Capability.RESTART_API)

    def reset_api_state(self, participant: str | None = None) -> None:
        """With the API node stopped: remove everything it persisted (versions, heights, plans, nodes registered on
        its admin API), so that its next start_api() is its first start."""
        self._require(Capability.RESTART_API)
