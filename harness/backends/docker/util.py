"""Small Docker helpers shared by the docker backend, `harness images` and the tests: is an engine reachable,
the labels every harness container/network/volume carries, and reaping by label.

    reason = docker_available()          # None when OK, else a sentence naming the fix
    labels = session_labels("abc123")    # {"gonka-harness": "1", "gonka-harness.session": "abc123", ...}
    reap(labels)                         # remove leftovers of a crashed run (containers, networks, volumes)
    assert count_by_label(labels).total == 0

testcontainers starts a Ryuk reaper from a registry image by default; the harness disables Ryuk
(TESTCONTAINERS_RYUK_DISABLED=true), so it needs no registry, and reaps by label itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import docker

LABEL_ROOT = "gonka-harness"  # every object the harness creates carries gonka-harness=1
LABEL_SESSION = "gonka-harness.session"  # one pytest session / one CLI run
LABEL_WORKER = "gonka-harness.worker"  # pytest-xdist worker id ("gw0"), "main" without xdist
LABEL_COMPONENT = "gonka-harness.component"  # chain, api, wiremock-v0.3.8, nginx, chaos ...
LABEL_IMAGE_INPUTS = "gonka-harness.inputs"  # on images: hash of the sources they were built from

ENGINE_FIX = "start one with `bash scripts/docker-engine.sh` (installs Debian docker.io and runs dockerd), or set DOCKER_HOST"


def disable_ryuk() -> None:
    """No registry here for testcontainers' Ryuk image; the harness reaps by label instead."""
    os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
    try:  # testcontainers reads the variable once into its config object; keep both in step
        from testcontainers.core.config import testcontainers_config

        if os.environ["TESTCONTAINERS_RYUK_DISABLED"].lower() == "true":
            testcontainers_config.ryuk_disabled = True
    except Exception:  # older/newer testcontainers without that attribute: the environment variable suffices
        pass


def client(timeout_s: float = 10.0) -> docker.DockerClient:
    """A docker SDK client from the environment (honours DOCKER_HOST like testcontainers does)."""
    import docker

    return docker.from_env(timeout=int(max(1, timeout_s)))


def docker_available(timeout_s: float = 5.0) -> str | None:
    """None when a Docker engine answers; otherwise why not, and the fix."""
    try:
        import docker
    except ImportError:
        return "the `docker` Python package is missing: pip install 'docker>=7'"
    where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        c = docker.from_env(timeout=int(max(1, timeout_s)))
    except Exception as e:
        return f"no Docker engine reachable at {where} ({type(e).__name__}: {_short(e)}); {ENGINE_FIX}"
    try:
        c.ping()
    except Exception as e:
        return f"the Docker engine at {where} does not answer ({type(e).__name__}: {_short(e)}); {ENGINE_FIX}"
    finally:
        c.close()
    return None


def session_labels(session: str, worker: str | None = None, component: str | None = None) -> dict[str, str]:
    """Labels for one object. `worker` defaults to PYTEST_XDIST_WORKER (or "main")."""
    labels = {
        LABEL_ROOT: "1",
        LABEL_SESSION: session,
        LABEL_WORKER: worker or os.environ.get("PYTEST_XDIST_WORKER", "main"),
    }
    if component:
        labels[LABEL_COMPONENT] = component
    return labels


def _filters(labels: Mapping[str, str]) -> dict[str, str | list[str] | bool]:
    if not labels:
        raise ValueError("refusing to match Docker objects with no label filter (that would match everything)")
    return {"label": [f"{k}={v}" for k, v in labels.items()]}


@dataclass(frozen=True)
class LabelCount:
    containers: int
    networks: int
    volumes: int

    @property
    def total(self) -> int:
        return self.containers + self.networks + self.volumes

    def __str__(self) -> str:
        return f"{self.containers} container(s), {self.networks} network(s), {self.volumes} volume(s)"


def count_by_label(labels: Mapping[str, str], dc: docker.DockerClient | None = None) -> LabelCount:
    """How many containers (running or not), networks and volumes carry all of `labels`."""
    f = _filters(labels)  # refuses an empty filter before any engine is contacted
    own = dc is None
    dc = dc or client()
    try:
        return LabelCount(
            containers=len(dc.containers.list(all=True, filters=f)),
            networks=len(dc.networks.list(filters=f)),
            volumes=len(dc.volumes.list(filters=f)),
        )
    finally:
        if own:
            dc.close()


def reap(labels: Mapping[str, str], dc: docker.DockerClient | None = None) -> LabelCount:
    """Force-remove every container, then network and volume carrying all of `labels`; returns what was removed.

    Used at session start (leftovers of a crashed run) and at teardown. Objects that vanish meanwhile are ignored.
    """
    import docker.errors

    f = _filters(labels)  # refuses an empty filter before any engine is contacted
    own = dc is None
    dc = dc or client()
    n_c = n_n = n_v = 0
    try:
        for c in dc.containers.list(all=True, filters=f):
            try:
                c.remove(force=True, v=True)
                n_c += 1
            except docker.errors.NotFound:
                pass
        for n in dc.networks.list(filters=f):
            try:
                n.remove()
                n_n += 1
            except docker.errors.NotFound:
                pass
        for v in dc.volumes.list(filters=f):
            try:
                v.remove(force=True)
                n_v += 1
            except docker.errors.NotFound:
                pass
    finally:
        if own:
            dc.close()
    return LabelCount(n_c, n_n, n_v)


def image_exists(ref: str, dc: docker.DockerClient | None = None) -> bool:
    import docker.errors

    own = dc is None
    dc = dc or client()
    try:
        dc.images.get(ref)
        return True
    except docker.errors.ImageNotFound:
        return False
    finally:
        if own:
            dc.close()


def _short(e: BaseException, limit: int = 200) -> str:
    s = str(e).replace("\n", " ")
    return s if len(s) <= limit else s[: limit - 3] + "..."
