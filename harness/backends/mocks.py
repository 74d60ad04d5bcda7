"""The MLNode mocks of a local testnet: WireMock processes on 127.0.0.1 (one per MLNode, or one per version behind
real nginx), a TCP relay for a split inference port, and the MLNodeEndpoint each API node registers.

    mocks = LocalMocks((NodeSpec("mlnode-1"),), versions, topology="single", workdir=wd).start()
    mocks.mlnodes[0].journals                        # {"*": "http://127.0.0.1:PORT/__admin"}
    mocks.reset_nginx(start_version); mocks.stop()

`validation_callback_url`: where `pow/validate` posts its ValidatedBatch when the request carries no `url` (a real
API node's ProofBatch has none): the API node's callback base, `http://127.0.0.1:<ml_server_port>/v1/poc-batches`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Self

from harness.backends.contract import MLNodeEndpoint, NodeSpec
from harness.util.relay import TcpRelay
from harness.util.service import StartStop


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
    ) -> None:
        self.specs = specs
        self.versions = versions
        self.topology = topology
        self.workdir = Path(workdir)
        self.validation_callback_url = validation_callback_url
        self.mocks_dir = self.workdir / mocks_dir  # mapping roots (one LocalMocks per participant: its own)
        self.any_version = any_version  # False: versions not in `versions` find no mapping (not deployed there)
        self.mlnodes: list[MLNodeEndpoint] = []
        self.wiremocks: list = []
        self.nginx: list = []
        self.relays: list[TcpRelay] = []

    def start(self) -> Self:
        from harness.mlnode import NginxSideBySide, WireMockServer, start_many, write_mappings

        logs = self.workdir / "logs"
        side_by_side = self.topology == "side-by-side"
        cb = self.validation_callback_url
        # Mappings for the configured versions; behind nginx each WireMock is told which version it is.
        kw = {"validation_callback_url": cb, "any_version": self.any_version}
        if side_by_side:
            roots = {v: write_mappings(self.mocks_dir / v, self.versions, unversioned_as=v, **kw) for v in self.versions}
        else:
            shared = write_mappings(self.mocks_dir / "any", self.versions, **kw)
        plan: list[tuple[NodeSpec, str, WireMockServer]] = []
        for spec in self.specs:
            if side_by_side:
                plan += [(spec, v, WireMockServer(roots[v], name=f"{spec.id}-{v}", log_dir=logs)) for v in self.versions]
            else:
                plan.append((spec, "*", WireMockServer(shared, name=spec.id, log_dir=logs)))
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
        return self

    def stop(self) -> None:
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
        from harness.mlnode import Journal

        for wm in self.wiremocks:
            Journal(wm.admin_url).reset_mappings()

    def processes(self) -> list[tuple[str, object]]:
        """(name, service) of every supervised mock process, for `harness down`."""
        return [*((w.name, w) for w in self.wiremocks), *((f"nginx-{i}", n) for i, n in enumerate(self.nginx))]
