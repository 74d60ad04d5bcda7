"""MLNode mocks of the docker backend: one WireMock container per MLNode (or per port with split_ports), or, on
the side-by-side topology, one WireMock per version behind an nginx container (harness.mlnode.nginx's config).

The WireMock image keeps the upstream wiremock/wiremock interface (arguments appended to the java command,
root dir /home/wiremock), so the local image and wiremock/wiremock:3.x take the same command. The mappings are
written by harness.mlnode.write_mappings for the configured versions and mounted read-only at /home/wiremock.

Not python-wiremock's `wiremock.testing.testcontainer.WireMockContainer`: it reaches the server through docker's
published ports (`get_exposed_port`), which host networking (this backend's default, every address on loopback)
does not have, and it waits for readiness with fixed `time.sleep` retries; here WireMock is a `Component` like every
other container of the backend, with the same labels, reaping, logs and readiness evidence.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import requests

from harness.backends.contract import MLNodeEndpoint, NodeSpec
from harness.backends.docker.components import Component, NetPlan
from harness.errors import ConfigError, StartupError
from harness.mlnode import write_mappings
from harness.mlnode.nginx import READY_PATH, render_config
from harness.util.wait import wait_until

if TYPE_CHECKING:
    from harness.options import RunOptions

WIREMOCK_ROOT = "/home/wiremock"
WIREMOCK_PORT = 8080
NGINX_PORT = 8088
READY_TIMEOUT_S = 90.0


def wiremock_component(name: str, root: Path, image: str, net: NetPlan, log_dir: Path) -> Component:
    ports = net.ports(False, http=WIREMOCK_PORT)
    bind = "127.0.0.1" if net.mode == "host" else "0.0.0.0"
    args = [
        "--port",
        str(ports["http"].inner),
        "--bind-address",
        bind,
        "--root-dir",
        WIREMOCK_ROOT,
        "--global-response-templating",
        "--disable-gzip",
        "--disable-banner",
    ]
    return Component(
        name, image, args, net=net, log_dir=log_dir, ports=ports, volumes=[(str(root.resolve()), WIREMOCK_ROOT, "ro")]
    )


def wait_wiremock(c: Component, timeout_s: float = READY_TIMEOUT_S) -> None:
    wait_until(
        lambda: requests.get(c.url("http") + "/__admin/mappings?limit=1", timeout=1.0).status_code == 200,
        timeout_s=timeout_s,
        what=f"{c.name}: WireMock admin {c.url('http')}/__admin/mappings",
        evidence=c.tail,
        abort=c.exited,
        hint="the WireMock container's log is above; check the image (--image-wiremock) and the mounted mappings",
    )


class DockerNginx:
    """nginx (from the harness image, or nginx:1.28 upstream) routing /<version>/ to one WireMock container each."""

    def __init__(self, node_id: str, backends: dict[str, str], current: str, image: str, net: NetPlan, work: Path, log_dir: Path):
        self.backends = dict(backends)
        self.current = current
        self.prefix = (work / f"nginx-{node_id}").resolve()
        self.generation = 0
        ports = net.ports(False, http=NGINX_PORT)
        self.port = ports["http"].inner
        self.bridge = net.mode == "bridge"
        argv = ["nginx", "-p", str(self.prefix), "-c", str(self.conf), "-e", str(self.prefix / "logs" / "error.log")]
        self.c = Component(
            f"nginx-{node_id}",
            image,
            argv,
            net=net,
            log_dir=log_dir,
            ports=ports,
            volumes=[(str(self.prefix), str(self.prefix), "rw")],
        )

    @property
    def conf(self) -> Path:
        return self.prefix / "nginx.conf"

    def _render(self) -> None:

        self.generation += 1
        for sub in ("logs", "temp"):
            (self.prefix / sub).mkdir(parents=True, exist_ok=True)
        text = render_config(self.backends, self.current, port=self.port, prefix=self.prefix, generation=self.generation)
        if self.bridge:  # reachable from the other containers on the bridge network
            text = text.replace("listen 127.0.0.1:", "listen 0.0.0.0:")
        self.conf.write_text(text)

    def _serves_generation(self) -> bool:

        r = requests.get(self.c.url("http") + READY_PATH, timeout=1.0)
        return r.status_code == 200 and r.text.startswith(f"generation {self.generation} ")

    def _live_workers(self) -> int:
        """Workers still accepting connections (docker top; an old worker retitles itself '... is shutting down')."""
        top = self.c.wrapped.top()
        idx = top["Titles"].index("CMD")
        return sum(1 for p in top["Processes"] if "worker process" in p[idx] and "shutting down" not in p[idx])

    def start(self) -> None:
        self._render()
        self.c.start()
        self._wait(f"nginx {self.c.url('http')} answering generation {self.generation}")

    def _wait(self, what: str) -> None:
        wait_until(
            lambda: self._serves_generation() and self._live_workers() == 1,
            timeout_s=30,
            what=what,
            evidence=self.c.tail,
            abort=self.c.exited,
            hint=f"see {self.prefix / 'logs' / 'error.log'}",
        )

    def set_current(self, version: str) -> None:
        """Route `/` to `version`: re-render, `nginx -t`, `nginx -s reload` in the container, wait until served."""
        self.current = version
        self._render()
        base = ["nginx", "-p", str(self.prefix), "-c", str(self.conf)]
        for extra in (["-t"], ["-s", "reload"]):
            code, out = self.c.exec(base + extra)
            if code != 0:
                raise StartupError(f"nginx {' '.join(extra)} in {self.c.name} failed ({code}):\n{out}")
        self._wait(f"nginx reload to generation {self.generation} (current {version})")


def start_mocks(
    specs: Iterable[NodeSpec], opts: RunOptions, images: dict[str, str], net: NetPlan, work: Path, log_dir: Path
) -> tuple[list[Component], list[DockerNginx], list[MLNodeEndpoint]]:
    """Start every mock container; returns (components, nginxes, [MLNodeEndpoint])."""
    side = opts.topology == "side-by-side"
    comps: list[Component] = []
    nginxes: list[DockerNginx] = []
    plan = _wiremock_plan(specs, opts, images, net, work, log_dir)
    for _, _, c in plan:
        comps.append(c)
        c.start()
    for _, _, c in plan:
        wait_wiremock(c)
    endpoints = []
    for spec in specs:
        mine = {key: c for s, key, c in plan if s is spec}
        if side:
            urls = {v: c.service_url("http") for v, c in mine.items()}
            ng = DockerNginx(spec.id, urls, opts.start_version, images["nginx"], net, work, log_dir)
            comps.append(ng.c)
            ng.start()
            nginxes.append(ng)
            host, poc_port = net.host_of(ng.c.name), ng.c.ports["http"].service
            inf_port = poc_port
        else:
            host, poc_port, inf_port = _wiremock_address(spec, mine, net)
        endpoints.append(
            MLNodeEndpoint(
                id=spec.id,
                host=host,
                poc_port=poc_port,
                inference_port=inf_port,
                journals={k: c.url("http") + "/__admin" for k, c in mine.items()},
            )
        )
    return comps, nginxes, endpoints


def _wiremock_plan(
    specs: Iterable[NodeSpec], opts: RunOptions, images: dict[str, str], net: NetPlan, work: Path, log_dir: Path
) -> list[tuple[NodeSpec, str, Component]]:
    """Write the mappings and plan each node's WireMocks as (node, key: version, "*poc", "*inference" or "*", c)."""

    versions = opts.versions
    side = opts.topology == "side-by-side"
    plan: list[tuple[NodeSpec, str, Component]] = []
    if side:
        roots = {v: write_mappings(work / "mocks" / v, versions, unversioned_as=v) for v in versions}
    else:
        shared = write_mappings(work / "mocks" / "any", versions)
    for spec in specs:
        if side:
            keys = [(v, roots[v], f"wm-{spec.id}-{v}") for v in versions]
        elif spec.split_ports:
            keys = [("*poc", shared, f"wm-{spec.id}-poc"), ("*inference", shared, f"wm-{spec.id}-inference")]
        else:
            keys = [("*", shared, f"wm-{spec.id}")]
        for key, root, name in keys:
            plan.append((spec, key, wiremock_component(name.replace(".", "_"), root, images["wiremock"], net, log_dir)))
    return plan


def _wiremock_address(spec: NodeSpec, mine: dict[str, Component], net: NetPlan) -> tuple[str, int, int]:
    """(host, PoC port, inference port) of a node served by its WireMocks directly (no nginx)."""
    if spec.split_ports:
        host = net.host_of(mine["*poc"].name)
        poc_port, inf_port = mine["*poc"].ports["http"].service, mine["*inference"].ports["http"].service
        if net.mode == "bridge":  # two containers, but a node registration has one host field
            raise ConfigError(
                f"{spec.id}: split_ports needs both WireMocks on one host; on the bridge network they are two "
                "containers with two DNS names. Use network_mode='host' for split-port nodes"
            )
    else:
        host = net.host_of(mine["*"].name)
        poc_port = inf_port = mine["*"].ports["http"].service
    return host, poc_port, inf_port
