"""Docker backend: option plumbing, network plans, the upstream (unverified) config shapes, the relay's input
checks, and, with an engine, the crashed-run reaping policy and a bridge-network smoke run."""

import json
import socket

import pytest

from harness.backends.docker import upstream as upstream
from harness.backends.docker.components import NetPlan
from harness.errors import ConfigError
from harness.options import RunOptions, build_options


def test_image_overrides_from_options():
    opts = build_options(backend="docker", image_chain="my/chain:1", image_wiremock="wiremock/wiremock:3.9.1")
    assert opts.image_overrides == {"chain": "my/chain:1", "wiremock": "wiremock/wiremock:3.9.1"}
    from harness.backends.docker.settings import resolve_images

    imgs = resolve_images("upstream", opts.image_overrides, env={"IMAGE_API": "env/api:2"})
    assert imgs["chain"] == "my/chain:1"
    assert imgs["api"] == "env/api:2"
    assert imgs["wiremock"] == "wiremock/wiremock:3.9.1"


def test_network_mode_is_checked(tmp_path):
    from harness.backends.docker import DockerTestnet

    with pytest.raises(ConfigError, match="network_mode: 'overlay'"):
        DockerTestnet(RunOptions(backend="docker"), tmp_path, network_mode="overlay")


def test_net_plans():
    host = NetPlan("host", "gh-t-1", {})
    p = host.ports(True, rpc=26657)["rpc"]
    assert p.inner == p.service == p.host != 26657
    assert host.host_of("chain") == "127.0.0.1"
    bridge = NetPlan("bridge", "gh-t-2", {})
    relayed, direct = bridge.ports(True, rpc=26657)["rpc"], bridge.ports(False, http=8080)["http"]
    assert relayed.service == 26657 and relayed.inner != 26657 and relayed.host not in (26657, relayed.inner)  # noqa: PT018
    assert direct.inner == direct.service == 8080
    assert bridge.host_of("chain") == "gh-t-2-chain"


def test_upstream_shapes_are_what_the_reference_names(tmp_path):
    g = upstream.genesis_overrides("v0.3.8", 3.0)
    assert g["app_state"]["gov"]["params"]["voting_period"] == "3s"
    # upstream main's genesis refuses the field (verified with the real binary under the gonka backend)
    assert "inference" not in g["app_state"]
    ports = NetPlan("host", "gh-t-3", {}).ports(False, **upstream.API_SERVICE_PORTS)
    cfg = upstream.api_config(
        chain_url="http://127.0.0.1:1", public_url="p", callback_url="c", start_version="v0.3.8", ports=ports
    )
    assert cfg["current_node_version"] == "v0.3.8"
    assert cfg["chain_node"]["url"] == "http://127.0.0.1:1"
    assert cfg["api"]["admin_server_port"] == ports["admin"].inner
    chain_ports = NetPlan("host", "gh-t-4", {}).ports(False, **upstream.CHAIN_SERVICE_PORTS)
    env = upstream.chain_env("host", chain_ports)
    assert env["CONFIG_rpc__laddr"] == f"tcp://127.0.0.1:{chain_ports['rpc'].inner}"
    assert env["CONFIG_consensus__timeout_commit"] == "1s"
    home = upstream.prepare_chain_home(tmp_path / "inference", "v0.3.8", 3.0)
    assert json.loads((home / "genesis_overrides.json").read_text()) == g


def test_relay_rejects_bad_maps():
    from harness.backends.docker.relay import parse_map

    assert parse_map("26657:20000") == (26657, 20000)
    for bad in ("26657", "a:b", "1:1", "0:5"):
        with pytest.raises(SystemExit, match="--map"):
            parse_map(bad)


@pytest.mark.docker
def test_reap_stale_removes_only_dead_owners():
    from harness.backends.docker import util as docker_util
    from harness.backends.docker.session import LABEL_OWNER, ensure_local_images, owner_tag, reap_stale

    image = ensure_local_images()["harness"]
    dc = docker_util.client()
    made = {}
    try:
        dead = f"{socket.gethostname()}:999999999:0"  # a pid that cannot exist on this host
        for session, owner in (("crashed-test", dead), ("live-test", owner_tag())):
            made[session] = {**docker_util.session_labels(session), LABEL_OWNER: owner}
            dc.containers.create(image, ["true"], labels=made[session], network_mode="none")
        assert reap_stale(dc) >= 1
        assert docker_util.count_by_label(made["crashed-test"], dc).total == 0
        assert docker_util.count_by_label(made["live-test"], dc).containers == 1
    finally:
        for labels in made.values():
            docker_util.reap(labels, dc)
        dc.close()


@pytest.mark.docker
@pytest.mark.slow
def test_bridge_network_smoke(tmp_path):
    """User-defined bridge network: DNS names between containers, published loopback ports for the harness."""
    from harness.backends.docker import DockerTestnet
    from harness.backends.docker.util import count_by_label

    tn = DockerTestnet(RunOptions(backend="docker"), tmp_path, network_mode="bridge")
    try:
        tn.start()
        assert count_by_label(tn.labels).networks == 1
        assert tn.mlnodes[0].host == f"{tn.prefix}-wm-mlnode-1"
        assert tn.chain.mlnode_version() == "v0.3.8"
        chat = tn.api.chat("over the bridge")
        assert chat.ok, chat
        assert "v0.3.8" in chat.content
        assert any(r.outcome == "ok" for r in _proxy_history(tn)), "the API node's chain calls did not pass the proxy"
    finally:
        tn.close()
    assert count_by_label(tn.labels).total == 0


def _proxy_history(tn):
    from harness.chaos import ChaosControl

    return ChaosControl(tn.endpoints.chaos_control).history()
