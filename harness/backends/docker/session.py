"""Session identity, label policy and image choice of the docker backend.

Every container and network carries docker_util.session_labels(SESSION) (root label, session, xdist worker,
component), the testnet prefix (LABEL_TESTNET) and LABEL_OWNER = "<hostname>:<pid>:<pid start time>" of the
process that created it. Reaping policy (reap_stale, run when a DockerTestnet starts): objects of *another* session
whose owner process on this host is gone (a crashed or killed run) are removed; objects of live sessions (parallel
xdist workers, other users of the engine) and of other hosts (a shared DOCKER_HOST) are never touched. A normal
teardown removes the testnet's own objects by LABEL_TESTNET. HARNESS_SESSION overrides the generated session id.
"""

from __future__ import annotations

import itertools
import os
import secrets
import socket
from typing import TYPE_CHECKING

from harness.backends.docker import util as docker_util
from harness.backends.docker.images.build import ensure_images
from harness.backends.docker.settings import LOCAL_IMAGES, resolve_images
from harness.options import RunOptions
from harness.util.process import proc_starttime

if TYPE_CHECKING:
    import docker

LABEL_TESTNET = "gonka-harness.testnet"
LABEL_OWNER = "gonka-harness.owner"  # "<host>:<pid>:<pid start time>" of the process that made the object
SESSION = os.environ.get("HARNESS_SESSION") or f"{os.getpid()}-{secrets.token_hex(3)}"
_counter = itertools.count(1)
_local_images: dict[str, str] | None = None


def next_prefix() -> str:
    """Container/network name prefix of the next testnet in this process (unique on the engine)."""
    return f"gh-{SESSION}-{next(_counter)}"


def owner_tag(pid: int | None = None) -> str:
    pid = pid or os.getpid()
    return f"{socket.gethostname()}:{pid}:{proc_starttime(pid)}"


def owner_alive(tag: str) -> bool:
    host, pid, start = [*tag.split(":"), "", "", ""][:3]
    if host != socket.gethostname():
        return True  # another machine's object (shared DOCKER_HOST): not ours to judge
    return pid.isdigit() and str(proc_starttime(int(pid))) == start


def reap_stale(dc: docker.DockerClient | None = None) -> int:
    """Remove objects of harness sessions whose owner process on this host is gone; returns how many sessions."""
    dc = dc or docker_util.client()
    mine: dict[str, str | list[str] | bool] = {"label": [f"{docker_util.LABEL_ROOT}=1"]}
    sessions: dict[str, str] = {}
    for obj in [*dc.containers.list(all=True, filters=mine), *dc.networks.list(filters=mine)]:
        labels = obj.attrs.get("Config", {}).get("Labels") or obj.attrs.get("Labels") or {}
        tag, session = labels.get(LABEL_OWNER), labels.get(docker_util.LABEL_SESSION)
        if tag and session and session != SESSION and not owner_alive(tag):
            sessions[session] = tag
    for session in sessions:
        docker_util.reap({docker_util.LABEL_ROOT: "1", docker_util.LABEL_SESSION: session}, dc)
    return len(sessions)


def ensure_local_images() -> dict[str, str]:
    """Build (or reuse) the local images once per process; {"harness": ref, "wiremock": ref} pinned by input hash."""
    global _local_images
    if _local_images is None:

        _local_images = ensure_images(log=lambda m: print(m, flush=True))
    return _local_images


def choose_images(opts: RunOptions) -> dict[str, str]:

    imgs = resolve_images(opts.images, opts.image_overrides)
    if any(ref in LOCAL_IMAGES.values() for ref in imgs.values()):
        built = ensure_local_images()
        by_local = {LOCAL_IMAGES["harness"]: built["harness"], LOCAL_IMAGES["wiremock"]: built["wiremock"]}
        imgs = {role: by_local.get(ref, ref) for role, ref in imgs.items()}
    return imgs
