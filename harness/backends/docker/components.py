"""Containers of the docker backend: the network plan (host or bridge) and one `Component` per container
(a testcontainers `DockerContainer`, labelled, logs captured to a file, stop/start/kill, readiness evidence).

Host mode (default):   network_mode=host; every port is allocated with free_port() on 127.0.0.1 and passed on the
                       component's command line; containers reach each other on 127.0.0.1 as the harness does.
Bridge mode (laptops): one user-defined bridge network per testnet; containers reach each other by DNS name on
                       fixed service ports; each service port is published on 127.0.0.1:<allocated> for the harness.
                       Harness components bind loopback only, so their command runs under docker_relay, which
                       forwards 0.0.0.0:SERVICE (inside the container) to 127.0.0.1:INNER.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from harness.backends.docker import util as docker_util
from harness.errors import StartupError

if TYPE_CHECKING:
    from docker.models.containers import Container
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.network import Network
from harness.util.ports import LOOPBACK, free_port

MODES = ("host", "bridge")
INNER_BASE = 20000  # bridge mode: where a relayed component listens inside its container
STOP_TIMEOUT_S = 10


@dataclass(frozen=True)
class PortSpec:
    name: str
    inner: int  # where the process listens inside the container
    service: int  # what other containers connect to
    host: int  # published on 127.0.0.1 of the Docker host (what the harness connects to)


@dataclass
class NetPlan:
    """Addresses for one testnet. `prefix` names containers (and DNS names in bridge mode)."""

    mode: str
    prefix: str
    labels: dict[str, str]
    network: Network | None = None  # testcontainers Network (bridge mode)
    _inner: itertools.count[int] = field(default_factory=lambda: itertools.count(INNER_BASE))

    def ports(self, relayed: bool, **services: int) -> dict[str, PortSpec]:
        """{name: PortSpec}; `services` gives the bridge-mode service port of each name (e.g. rpc=26657)."""
        out: dict[str, PortSpec] = {}
        for name, service in services.items():
            if self.mode == "host":
                p = free_port()
                out[name] = PortSpec(name, p, p, p)
            else:
                inner = next(self._inner) if relayed else service
                out[name] = PortSpec(name, inner, service, free_port())
        return out

    def dns(self, component: str) -> str:
        return f"{self.prefix}-{component}"

    def host_of(self, component: str) -> str:
        """The address other containers use for `component`."""
        return LOOPBACK if self.mode == "host" else self.dns(component)

    def start(self) -> None:
        if self.mode == "bridge" and self.network is None:
            from testcontainers.core.network import Network

            labels = {**self.labels, docker_util.LABEL_COMPONENT: "network"}
            net = Network(docker_network_kw={"labels": labels, "driver": "bridge"})
            net.name = f"{self.prefix}-net"
            net.create()
            self.network = net

    def close(self) -> None:
        if self.network is not None:
            try:
                self.network.remove()
            finally:
                self.network = None


class Component:
    """One container. `command` is the argv of the image's entrypoint (or the whole command line)."""

    def __init__(
        self,
        name: str,
        image: str,
        command: list[str],
        *,
        net: NetPlan,
        log_dir: Path,
        ports: dict[str, PortSpec] | None = None,
        relay: bool = False,
        volumes: list[tuple[str, str, str]] | None = None,
        env: dict[str, str] | None = None,
        entrypoint: list[str] | None = None,
    ) -> None:
        self.name = name
        self.image = image
        self.command = list(command)
        self.net = net
        self.ports = ports or {}
        self.relay = relay
        self.volumes = volumes or []
        self.env = env or {}
        self.entrypoint = entrypoint
        self.log_path = Path(log_dir) / f"{name}.log"
        self.container: DockerContainer | None = None

    # -- addresses -----------------------------------------------------------------------------------
    def url(self, port: str, scheme: str = "http") -> str:
        """From the harness (the Docker host)."""
        return f"{scheme}://{LOOPBACK}:{self.ports[port].host}"

    def service_url(self, port: str, scheme: str = "http") -> str:
        """From other containers."""
        return f"{scheme}://{self.net.host_of(self.name)}:{self.ports[port].service}"

    def argv(self) -> list[str]:
        if self.net.mode == "bridge" and self.relay and self.ports:
            maps = [a for p in self.ports.values() for a in ("--map", f"{p.service}:{p.inner}")]
            return ["python", "-m", "harness.backends.docker.relay", *maps, "--", *self.command]
        return list(self.command)

    # -- lifecycle -----------------------------------------------------------------------------------
    def start(self) -> Component:
        from testcontainers.core.container import DockerContainer

        docker_util.disable_ryuk()
        labels = {**self.net.labels, docker_util.LABEL_COMPONENT: self.name}
        c = DockerContainer(self.image).with_name(self.net.dns(self.name)).with_command(self.argv())
        for host, inside, mode in self.volumes:
            c = c.with_volume_mapping(host, inside, mode)
        for k, v in self.env.items():
            c = c.with_env(k, v)
        kwargs: dict[str, object] = {"labels": labels, "init": True}
        if self.entrypoint is not None:
            kwargs["entrypoint"] = self.entrypoint
        if self.net.mode == "host":
            kwargs["network"] = "host"  # also stops testcontainers guessing a network (it does when run in a container)
        else:
            assert self.net.network is not None, "NetPlan.start() first"
            c = c.with_network(self.net.network).with_network_aliases(self.name, self.net.dns(self.name))
            for p in self.ports.values():  # published on the host's loopback only (docker-py's (ip, port) form)
                c.ports[f"{p.service}/tcp"] = (LOOPBACK, p.host)  # type: ignore[assignment]
        self.container = container = c.with_kwargs(**kwargs)
        try:
            container.start()
        except Exception as e:  # docker.errors.ImageNotFound / APIError: name the image and the fix
            self.container = None
            raise StartupError(
                f"{self.name}: cannot start a container from {self.image}: {type(e).__name__}: {e}; "
                "build local images with `harness images build` (or choose images with --images/--image-*)"
            ) from None
        return self

    @property
    def wrapped(self) -> Container:
        if self.container is None:
            raise StartupError(f"{self.name}: container not started")
        return self.container.get_wrapped_container()

    def status(self) -> str:
        if self.container is None:
            return "not started"
        try:
            w = self.wrapped
            w.reload()
            state = w.attrs.get("State", {})
            if state.get("Status") == "exited":
                return f"exited (exit code {state.get('ExitCode')})"
            return str(state.get("Status", "?"))
        except Exception as e:
            return f"unknown ({type(e).__name__}: {e})"

    def exited(self) -> str | None:
        """For wait_until(abort=...): why the container is gone, or None while it runs."""
        s = self.status()
        return None if s in ("running", "created", "restarting") else f"container {self.net.dns(self.name)} is {s}"

    def stop(self) -> None:
        """Stop the process (the container stays, with its filesystem and port bindings)."""
        self.save_logs()
        self.wrapped.stop(timeout=STOP_TIMEOUT_S)

    def resume(self) -> None:
        self.wrapped.start()

    def kill(self) -> None:
        self.wrapped.kill()

    def exec(self, argv: list[str]) -> tuple[int, str]:
        res = self.wrapped.exec_run(argv)
        code, out = res.exit_code, res.output
        if code is None or not isinstance(out, bytes):  # docker-py gives these only with stream=True or detach=True
            raise StartupError(f"{self.name}: exec {argv[0]}: no exit code and output from docker ({res!r})")
        return code, out.decode(errors="replace")

    def logs_text(self) -> str:
        if self.container is None:
            return ""
        try:
            return self.wrapped.logs(stdout=True, stderr=True).decode(errors="replace")
        except Exception as e:
            return f"(logs unavailable: {type(e).__name__}: {e})"

    def tail(self, lines: int = 40) -> str:
        text = self.logs_text().splitlines()
        return f"container {self.net.dns(self.name)} ({self.image}) is {self.status()}; last lines:\n" + "\n".join(text[-lines:])

    def save_logs(self) -> Path:
        """Write the container's stdout+stderr (all runs so far) to log_dir/<name>.log."""
        if self.container is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self.log_path.write_text(self.logs_text())
        return self.log_path

    def remove(self) -> None:
        if self.container is None:
            return
        try:
            self.save_logs()
        finally:
            try:
                self.wrapped.remove(force=True, v=True)
            except Exception as e:
                import docker.errors

                if not isinstance(e, docker.errors.NotFound):
                    raise
            finally:
                self.container = None
