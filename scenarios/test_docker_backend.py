"""Scenarios through the docker backend (testcontainers, locally built images unless --images upstream):
the upgrade path (scenario 1), the restart catch-up with the API container stopped across the height
(scenario 3), EOF on the API node's chain connection during a hop through the chaos proxy container, and no
container, network or volume left behind after teardown. Skipped with the fix named when no engine answers."""

import pytest

from harness.drive.assertions import assert_hop_clean
from harness.drive.hop import UpgradeRunner
from harness.mlnode.collect import collect_records

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(scope="module")
def docker_testnet(testnet_factory):
    tn = testnet_factory.make(backend="docker")
    yield tn
    testnet_factory.release(tn)


@pytest.fixture
def dtn(docker_testnet):
    """The module's docker testnet, rebuilt (fresh chain and API containers) after a test that upgraded it."""
    if docker_testnet.dirty:
        docker_testnet.rebuild_chain()
    else:
        docker_testnet.mlnodes_reset()
    yield docker_testnet
    docker_testnet.dirty = True


def runner_for(tn) -> UpgradeRunner:
    runner = UpgradeRunner(tn, progress=lambda m: print(f"[docker upgrade] {m}"))
    tn.last_runner = runner
    return runner


def test_docker_upgrade_path(dtn, harness_options):
    from harness.backends.docker import DockerTestnet

    assert isinstance(dtn, DockerTestnet)
    assert dtn.info.backend == "docker"
    assert {c.name for c in dtn.containers()} >= {"chain", "chaos", "api", "wm-mlnode-1"}
    assert all(c.status() == "running" for c in dtn.containers())
    upgrade = runner_for(dtn)
    assert dtn.chain.mlnode_version() == harness_options.versions[0]
    for version in harness_options.versions[1:]:
        hop = upgrade.hop(version)
        assert_hop_clean(hop, dtn)
        assert dtn.chain.mlnode_version() == version


def test_docker_restart_catchup(dtn, harness_options):
    old, new = harness_options.versions[0], harness_options.versions[1]
    upgrade = runner_for(dtn)
    _, height = upgrade.schedule(new)
    dtn.stop_api()  # docker stop: the container (and its state file) stays
    assert dtn.api_c.status().startswith("exited")
    down_ms = dtn.now_ms()
    dtn.rpc.wait_for_height(height + 2)
    assert dtn.chain.mlnode_version() == new

    dtn.start_api()  # docker start
    dtn.wait_nodes_inference()
    after = sorted((r for r in collect_records(dtn.mlnodes) if r.logged_ms > down_ms), key=lambda r: r.logged_ms)
    assert after, "the restarted API container made no MLNode call"
    assert after[0].version_seen == new, f"first call after restart: {after[0].method} {after[0].url}"
    stops = [r for r in after if r.method == "POST" and r.url == f"/{old}/api/v1/stop"]
    assert len(stops) == 1, f"expected one POST /{old}/api/v1/stop after restart, got {len(stops)}"
    stale = [r for r in after if r.version_seen != new and r not in stops]
    assert not stale, f"{len(stale)} calls after restart not on {new}; first: {stale[0].method} {stale[0].url}"


@pytest.fixture(scope="module")
def docker_side_by_side(testnet_factory):
    """One WireMock container per version behind an nginx container: the old version's stop at the switch does not
    stop the new one, so inference has no gap and any failed chat is the chaos's doing."""
    tn = testnet_factory.make(backend="docker", topology="side-by-side")
    yield tn
    testnet_factory.release(tn)


def test_docker_chaos_eof_during_hop(docker_side_by_side, harness_options):
    from harness.chaos import ChaosControl

    dtn = docker_side_by_side
    assert {c.name for c in dtn.containers()} >= {"nginx-mlnode-1", "wm-mlnode-1-v0_3_9", "chaos"}

    control = ChaosControl(dtn.endpoints.chaos_control)
    control.reset()
    # EOF on about half of the API node's chain HTTP calls during the hop, at most 8 of them
    control.add_fault(
        {"fault": "eof", "target": {"kind": "http", "probability": 0.5}, "window": {"end_ms": 60_000, "max_count": 8}}
    )
    # No admin disable/enable kick and no PoC phase: both make the node unavailable (503) by design, and this
    # test counts inference failures caused by the chain connection
    hop = runner_for(dtn).hop(harness_options.versions[1], kick=False, poc=False)
    control.clear()
    eofs = [r for r in control.history() if r.outcome == "eof"]
    assert eofs, "the chaos proxy container injected no EOF (is the API node's chain URL the proxy?)"
    assert not hop.chat_failures, f"{len(hop.chat_failures)} inference requests failed: {hop.chat_failures[:3]}"
    assert_hop_clean(hop, dtn)


def test_docker_teardown_leaves_nothing(testnet_factory):
    from harness.backends.docker.util import count_by_label

    tn = testnet_factory.make(backend="docker", chaos=False)
    running = count_by_label(tn.labels)
    assert running.containers == 3, f"expected chain, api and one WireMock: {running}"
    assert running.networks == 0, f"host mode creates no network: {running}"
    testnet_factory.live.remove(tn)
    tn.close()
    left = count_by_label(tn.labels)
    assert left.total == 0, f"left after teardown: {left}"
    assert {"chain", "api", "wm-mlnode-1"} <= set(tn.logs()), "container logs were not saved under workdir/logs"
