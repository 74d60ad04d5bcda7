"""WireMock in a container for the docker backend: the same interface as WireMockServer.

    with WireMockContainer(REPO_MOCKS, image="wiremock/wiremock:3.9.1") as wm:
        Journal(wm.admin_url).requests()

UNTESTED HERE: written against testcontainers-python 4.x, but no Docker engine was available when it was
written, so start()/stop()/logs() have never run. What was verified: the mapping files it mounts load and
behave identically on the WireMock 3.9.1 standalone jar (tests/test_mlnode.py with HARNESS_WIREMOCK3_JAR),
including webhooks through 3.x's built-in extension. Needs TESTCONTAINERS_RYUK_DISABLED=true (no registry
here for the Ryuk image); containers carry the label `gonka-harness=mlnode` so they can be reaped by label.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Self

import requests

from harness.errors import DependencyMissing, StartupError
from harness.util.ports import LOOPBACK, free_port
from harness.util.service import StartStop
from harness.util.wait import wait_until

DEFAULT_IMAGE = "wiremock/wiremock:3.9.1"
CONTAINER_ROOT = "/home/wiremock"
LABEL = {"gonka-harness": "mlnode"}


class WireMockContainer(StartStop):
    """A `wiremock/wiremock` 3.x container serving `root_dir` (mounted read-only at /home/wiremock)."""

    def __init__(
        self,
        root_dir: Path | str,
        *,
        name: str = "wiremock",
        image: str = DEFAULT_IMAGE,
        port: int = 0,
        host_network: bool = True,
        extra_args: tuple[str, ...] = (),
        ready_timeout_s: float = 60.0,
    ) -> None:
        self.root_dir = Path(root_dir).resolve()
        self.name = name
        self.image = image
        self.port = port or free_port()
        self.host_network = host_network
        self.extra_args = list(extra_args)
        self.ready_timeout_s = ready_timeout_s
        self.container = None
        self.start_s: float | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def admin_url(self) -> str:
        return f"{self.url}/__admin"

    def command(self) -> list[str]:
        # 3.x image: webhooks and templating helpers are built in; the journal is unbounded by default.
        args = ["--global-response-templating", "--disable-gzip", "--disable-banner"]
        if self.host_network:  # the container shares the host's loopback: bind there on the allocated port
            args += ["--port", str(self.port), "--bind-address", LOOPBACK]
        return args + self.extra_args

    def start(self) -> Self:
        try:
            from testcontainers.core.container import DockerContainer
        except ImportError:
            raise DependencyMissing("testcontainers is not installed; `pip install testcontainers`") from None
        os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
        c = DockerContainer(self.image).with_volume_mapping(str(self.root_dir), CONTAINER_ROOT, "ro")
        c = c.with_command(" ".join(self.command())).with_kwargs(labels=dict(LABEL))
        if self.host_network:
            c = c.with_kwargs(network_mode="host", labels=dict(LABEL))
        else:
            c = c.with_bind_ports(8080, (LOOPBACK, self.port))
        t0 = time.monotonic()
        try:
            self.container = c.start()
        except Exception as e:  # docker.errors.* when the engine or the image is missing
            raise DependencyMissing(
                f"{self.name}: cannot start container {self.image}: {e}; is dockerd running and the image built?"
            ) from None
        wait_until(
            self._admin_ready,
            timeout_s=self.ready_timeout_s,
            what=f"{self.name}: WireMock admin API {self.admin_url}/mappings (container {self.image})",
            evidence=lambda: self.logs(40),
        )
        self.start_s = time.monotonic() - t0
        return self

    def _admin_ready(self) -> bool:
        return requests.get(f"{self.admin_url}/mappings?limit=1", timeout=1.0).status_code == 200

    def logs(self, lines: int = 200) -> str:
        if self.container is None:
            return "(not started)"
        out, err = self.container.get_logs()
        text = (out + err).decode(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def is_running(self) -> bool:
        return self.container is not None and self.container.status == "running"

    def stop(self) -> None:
        if self.container is not None:
            try:
                self.container.stop()
            except Exception as e:
                raise StartupError(f"{self.name}: stopping container failed: {e}") from None
            finally:
                self.container = None
