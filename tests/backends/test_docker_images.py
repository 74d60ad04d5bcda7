"""The locally built images work: built with no registry, started through testcontainers with host networking
(every address 127.0.0.1), and nothing labelled is left behind.

Needs a Docker engine (`bash scripts/docker-engine.sh`); skipped with that fix named when none answers. The first
run builds the images (minutes: debootstrap + apt + pip); later runs reuse them (inputs hash tag).
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator

import pytest
import requests

from harness.backends.docker import util as docker_util
from harness.util.ports import free_port
from harness.util.wait import wait_until
from tests.support import REPO

pytestmark = [pytest.mark.docker, pytest.mark.timeout(1800)]

ROOT = REPO
MLNODE_MOCKS = ROOT / "mocks" / "mlnode"


# -- skip and images (the plugin will centralise the skip later) ----------------------------------------------
@pytest.fixture(scope="module")
def docker_engine() -> Iterator[None]:
    reason = docker_util.docker_available()
    if reason:
        pytest.skip(reason)
    docker_util.disable_ryuk()
    return


@pytest.fixture(scope="module")
def images(docker_engine: None) -> dict[str, str]:
    from harness.backends.docker.images import build_images

    report = build_images(log=lambda m: print(m, file=sys.stderr))
    refs = report.images
    assert refs["harness"].startswith("gonka-harness/harness:")
    assert refs["wiremock"].startswith("gonka-harness/wiremock:")
    return refs


@pytest.fixture
def labels(docker_engine: None) -> Iterator[dict[str, str]]:
    """Labels unique to this test; after it, nothing carrying them may remain."""
    labels = docker_util.session_labels(f"test-{uuid.uuid4().hex[:12]}")
    yield labels
    left = docker_util.count_by_label(labels)
    docker_util.reap(labels)  # never leave anything behind, even when the assertion below fails
    assert left.total == 0, f"left behind after the test: {left}"


def _container(image: str, labels: dict[str, str], component: str, command: list[str]):
    from testcontainers.core.container import DockerContainer

    return (
        DockerContainer(image)
        .with_command(command)
        .with_kwargs(network_mode="host", labels={**labels, docker_util.LABEL_COMPONENT: component})
    )


def _logs(container) -> str:
    try:
        out, err = container.get_logs()
        return "container log tail:\n" + "\n".join((out + err).decode(errors="replace").splitlines()[-30:])
    except Exception as e:
        return f"(no container logs: {e})"


def _status_code_or_raise(container) -> str | None:
    """abort reason for wait_until when the container exited."""
    try:
        container.get_wrapped_container().reload()
        state = container.get_wrapped_container().attrs["State"]
    except Exception as e:
        return f"container gone: {e}"
    return None if state.get("Running") else f"container exited with {state.get('ExitCode')}"


# -- tests ----------------------------------------------------------------------------------------------------
def test_harness_image_serves_on_loopback_with_host_network(images: dict[str, str], labels: dict[str, str]) -> None:
    """A Python server in the harness image, host network: reachable at 127.0.0.1:PORT from the test."""
    port = free_port()
    cmd = ["python", "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", "/opt/gonka-harness"]
    with _container(images["harness"], labels, "http", cmd) as c:
        assert docker_util.count_by_label(labels).containers == 1
        r = wait_until(
            lambda: requests.get(f"http://127.0.0.1:{port}/pyproject.toml", timeout=2),
            timeout_s=30,
            what=f"http.server in {images['harness']} on 127.0.0.1:{port}",
            interval_s=0.1,
            evidence=lambda: _logs(c),
            abort=lambda: _status_code_or_raise(c),
        )
        assert r.status_code == 200
        assert r.text == (ROOT / "pyproject.toml").read_text()  # the image carries this source tree
        for tool in (["java", "-version"], ["nginx", "-v"], ["python", "-c", "import harness.cli, testcontainers, cosmpy"]):
            res = c.exec(tool)
            assert res.exit_code == 0, f"{tool} in {images['harness']}: {res.output!r}"


def test_simnet_in_container_produces_blocks(images: dict[str, str], labels: dict[str, str]) -> None:
    port = free_port()
    cmd = ["harness", "simnet", "--rpc-port", str(port), "--block-time", "0.2"]
    with _container(images["harness"], labels, "chain", cmd) as c:

        def height() -> int:
            r = requests.get(f"http://127.0.0.1:{port}/status", timeout=2)
            r.raise_for_status()
            info = r.json()["result"]["sync_info"]
            h = int(info["latest_block_height"])  # CometBFT: int64 as a JSON string
            return h if h >= 1 and not info["catching_up"] else 0

        h = wait_until(
            height,
            timeout_s=60,
            what=f"simnet in {images['harness']}: status height >= 1 on 127.0.0.1:{port}",
            interval_s=0.2,
            evidence=lambda: _logs(c),
            abort=lambda: _status_code_or_raise(c),
        )
        assert h >= 1


def _expected_mapping_count() -> int:
    n = 0
    for p in sorted((MLNODE_MOCKS / "mappings").rglob("*.json")):
        doc = json.loads(p.read_text())
        n += len(doc["mappings"]) if isinstance(doc, dict) and "mappings" in doc else 1
    return n


@pytest.mark.parametrize("mount", [False, True], ids=["baked", "mounted"])
def test_wiremock_image_loads_mlnode_mappings(images: dict[str, str], labels: dict[str, str], mount: bool) -> None:
    """The WireMock image (upstream image's interface: args appended, root /home/wiremock) serves mocks/mlnode."""
    expected = _expected_mapping_count()
    assert expected > 0, "mocks/mlnode/mappings holds no mappings"
    port = free_port()
    cmd = ["--port", str(port), "--bind-address", "127.0.0.1", "--global-response-templating", "--disable-banner"]
    c = _container(images["wiremock"], labels, "wiremock", cmd)
    if mount:
        c = c.with_volume_mapping(str(MLNODE_MOCKS), "/home/wiremock", "ro")
    with c:
        admin = f"http://127.0.0.1:{port}/__admin"
        r = wait_until(
            lambda: requests.get(f"{admin}/mappings", timeout=2),
            timeout_s=60,
            what=f"WireMock admin {admin}/mappings in {images['wiremock']}",
            interval_s=0.2,
            evidence=lambda: _logs(c),
            abort=lambda: _status_code_or_raise(c),
        )
        assert r.status_code == 200
        assert r.json()["meta"]["total"] == expected
        # a versioned MLNode route answers (mapping semantics live in tests of harness/mlnode)
        state = requests.get(f"http://127.0.0.1:{port}/v0.3.8/api/v1/state", timeout=5)
        assert state.status_code == 200, state.text
        journal = requests.get(f"{admin}/requests", timeout=5).json()
        assert [e["request"]["url"] for e in journal["requests"]] == ["/v0.3.8/api/v1/state"]


def test_reap_removes_leftovers_of_a_crashed_run(images: dict[str, str], labels: dict[str, str]) -> None:
    """Objects left by a run that never tore down (simulated: created, not removed) are found and reaped by label."""
    dc = docker_util.client()
    try:
        dc.containers.create(images["harness"], ["true"], labels=labels, network_mode="host")
        dc.networks.create(f"gonka-harness-test-{labels[docker_util.LABEL_SESSION]}", labels=labels)
        dc.volumes.create(labels=labels)
        assert str(docker_util.count_by_label(labels, dc)) == "1 container(s), 1 network(s), 1 volume(s)"
        removed = docker_util.reap(labels, dc)
        assert (removed.containers, removed.networks, removed.volumes) == (1, 1, 1)
        assert docker_util.count_by_label(labels, dc).total == 0
    finally:
        docker_util.reap(labels, dc)
        dc.close()
