"""The MLNode mocks of a local testnet: WireMock processes on 127.0.0.1 (one per MLNode, or one per version behind
real nginx), a TCP relay for a split inference port, and the MLNodeEndpoint each API node registers.

    mocks = LocalMocks((NodeSpec("mlnode-1"),), versions, topology="single", workdir=wd).start()
    mocks.mlnodes[0].journals                        # {"*": "http://127.0.0.1:PORT/__admin"}
    mocks.reset_nginx(start_version); mocks.stop()

`validation_callback_url`: where `pow/validate` posts its ValidatedBatch when the request carries no `url` (a real
API node's ProofBatch has none): the API node's callback base, `http://127.0.0.1:<ml_server_port>/v1/poc-batches`.

`lifecycle` (MLNodeLifecycle; a NodeSpec's own wins): exclusive MLNodes get the exclusive mappings (single topology
only: one WireMock holds the MLNode's shared scenario); slow-start MLNodes get their versions other than
`start_version` loading (harness/mlnode/slowstart.py), armed at start and again by `rearm()` (scenario resets).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Self

from harness.backends.contract import MLNodeEndpoint, NodeSpec
from harness.errors import ConfigError
from harness.mlnode import Journal, NginxSideBySide, WireMockServer, start_many, write_mappings
from harness.mlnode.lifecycle import MLNodeLifecycle, resolve_lifecycle
from harness.util.relay import TcpRelay
from harness.util.service import StartStop

if TYPE_CHECKING:
    from harness.mlnode import NginxSideBySide, WireMockServer
    from harness.mlnode.slowstart import Loading, SlowStart


class LocalMocks(StartStop):
    def __init__(
        self,
        specs: tuple[NodeSpec, ...],
        versions: tuple[str, ...],
        *,
        topology: str,
        workdir: Path,
        validation_callback_url: str | None = None,
        mocks_dir: str = "mocks",
        any_version: bool = True,
        lifecycle: MLNodeLifecycle | None = None,
        start_version: str | None = None,
    ) -> None:
        self.specs = specs
        self.versions = versions
        self.topology = topology
        self.workdir = Path(workdir)
        self.validation_callback_url = validation_callback_url
        self.mocks_dir = self.workdir / mocks_dir  # mapping roots (one LocalMocks per participant: its own)
        self.any_version = any_version  # False: versions not in `versions` find no mapping (not deployed there)
        self.mlnodes: list[MLNodeEndpoint] = []
        self.wiremocks: list[WireMockServer] = []
        self.nginx: list[NginxSideBySide] = []
        self.relays: list[TcpRelay] = []
        self.start_version = start_version or versions[0]
        self.lifecycles = {spec.id: resolve_lifecycle(spec.lifecycle, lifecycle) for spec in specs}
        exclusive = [i for i, lc in self.lifecycles.items() if lc.exclusive]
        if exclusive and topology == "side-by-side":
            raise ConfigError(
                f"MLNode {exclusive[0]}: lifecycle exclusive needs topology single (one WireMock holds the MLNode's "
                "shared state; behind nginx each version is its own WireMock); use topology single for it"
            )
        self.slow_start: SlowStart | None = None  # when an MLNode starts slowly

    def start(self) -> Self:

        logs = self.workdir / "logs"
        side_by_side = self.topology == "side-by-side"
        cb = self.validation_callback_url
        # Mappings for the configured versions; behind nginx each WireMock is told which version it is.
        if side_by_side:
            roots = {
                v: write_mappings(
                    self.mocks_dir / v, self.versions, unversioned_as=v, validation_callback_url=cb, any_version=self.any_version
                )
                for v in self.versions
            }
        else:  # one mapping root per mode (exclusive or not) the MLNodes use
            shared = {
                ex: write_mappings(
                    self.mocks_dir / ("any-exclusive" if ex else "any"),
                    self.versions,
                    exclusive=ex,
                    validation_callback_url=cb,
                    any_version=self.any_version,
                )
                for ex in {lc.exclusive for lc in self.lifecycles.values()}
            }
        plan: list[tuple[NodeSpec, str, WireMockServer]] = []
        for spec in self.specs:
            if side_by_side:
                plan += [(spec, v, WireMockServer(roots[v], name=f"{spec.id}-{v}", log_dir=logs)) for v in self.versions]
            else:
                root = shared[self.lifecycles[spec.id].exclusive]
                plan.append((spec, "*", WireMockServer(root, name=spec.id, log_dir=logs)))
        self.wiremocks = [wm for _, _, wm in plan]
        start_many(self.wiremocks)
        for spec in self.specs:
            mine = {key: wm for s, key, wm in plan if s is spec}
            if side_by_side:
                ng = NginxSideBySide({v: wm.url for v, wm in mine.items()}, self.versions[0], log_dir=logs / f"{spec.id}-nginx")
                ng.start()
                self.nginx.append(ng)
                poc_port = inf_port = ng.port
            elif spec.split_ports:
                # one MLNode (one state machine) on two ports: management on WireMock's, inference via a relay
                relay = TcpRelay(mine["*"].port, name=f"{spec.id}-inference-port").start()
                self.relays.append(relay)
                poc_port, inf_port = mine["*"].port, relay.port
            else:
                poc_port = inf_port = mine["*"].port
            journals = {k: wm.admin_url for k, wm in mine.items()}
            self.mlnodes.append(MLNodeEndpoint(spec.id, "127.0.0.1", poc_port, inf_port, journals))
        self._start_slow(plan)
        return self

    def _start_slow(self, plan: list[tuple[NodeSpec, str, WireMockServer]]) -> None:
        # lazy: the slow-start mode's code loads when a test asks for it
        from harness.mlnode.slowstart import Loading, SlowStart, version_pattern

        targets = []
        for spec, key, wm in plan:
            seconds = self.lifecycles[spec.id].slow_start_s
            loading = [v for v in self.versions if v != self.start_version and key in ("*", v)]
            if seconds:
                targets += [
                    Loading(wm.admin_url, v, seconds, version_pattern(v, own_wiremock=key != "*"), mock=spec.id) for v in loading
                ]
        if targets:
            self.slow_start = SlowStart(targets)
            self.slow_start.arm()

    def rearm(self) -> None:
        """Slow-start versions load again from their next first request (after a scenario reset)."""
        if self.slow_start is not None:
            self.slow_start.arm()

    def loading(self) -> list[Loading]:
        """What the slow-start watcher saw per MLNode and version (harness.mlnode.slowstart.Loading)."""
        return self.slow_start.loading if self.slow_start is not None else []

    def stop(self) -> None:
        if self.slow_start is not None:
            self.slow_start.stop()
        for relay in self.relays:
            relay.stop()
        for ng in self.nginx:
            ng.stop()
        for wm in self.wiremocks:
            wm.stop()
        self.relays, self.nginx, self.wiremocks = [], [], []

    def reset_nginx(self, version: str) -> None:
        """Point nginx's unversioned route back at `version` (after a chain rebuild)."""
        for ng in self.nginx:
            ng.set_current(version)

    def reset_mappings(self) -> None:
        """Every mock's mappings back to the files it started with (undoes Journal.add_mappings)."""

        for wm in self.wiremocks:
            Journal(wm.admin_url).reset_mappings()

    def processes(self) -> list[tuple[str, object]]:
        """(name, service) of every supervised mock process, for `harness down`."""
        return [*((w.name, w) for w in self.wiremocks), *((f"nginx-{i}", n) for i, n in enumerate(self.nginx))]
