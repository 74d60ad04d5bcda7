"""API node against the embedded chain (simnet, real signed gov txs) and real WireMock MLNode mocks."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from harness.audit.contracts import contract_for
from harness.chain.keys import DEV_MNEMONIC, Key
from harness.errors import DependencyMissing
from harness.model.apinode import ApiNode, ApiNodeConfig
from harness.util.wait import wait_until
from tests.support import REPO

MOCKS = REPO / "mocks" / "mlnode"
MODEL = "Qwen/Qwen2.5-7B-Instruct"


@pytest.fixture
def testbed(tmp_path):
    from harness.mlnode.wiremock import WireMockServer
    from harness.model.simnet import Genesis, Simnet

    try:
        wm = WireMockServer(root_dir=MOCKS, port=0, log_dir=tmp_path / "wm").start()
    except DependencyMissing as e:
        pytest.skip(f"WireMock needs Java: {e}")
    try:
        with Simnet(Genesis(block_time_s=0.1, voting_period_blocks=3), port=0) as sim:
            yield sim, wm
    finally:
        wm.stop()


def config(tmp_path: Path, sim, wm, profile: str = "reference") -> ApiNodeConfig:
    return ApiNodeConfig.from_dict(
        {
            "chain_node": {"url": sim.rpc_url},
            "current_node_version": "v0.3.8",
            "profile": profile,
            "nodes": [
                {"id": "n1", "host": "127.0.0.1", "poc_port": wm.port, "inference_port": wm.port, "models": {MODEL: {"args": []}}}
            ],
            "intervals": {"status_poll_s": 0.3, "reconcile_s": 0.3, "client_refresh_s": 0.6, "pool_health_s": 0.5},
            "state_file": str(tmp_path / "state.yaml"),
        },
        config_path=tmp_path / "api.yaml",
    )


def debug(api) -> dict:
    return requests.get(api.admin_url + "/admin/v1/debug/state", timeout=5).json()


def wait_inference(api) -> None:
    wait_until(
        lambda: requests.get(api.admin_url + "/admin/v1/nodes", timeout=5).json()[0]["state"]["current_status"] == "INFERENCE",
        timeout_s=15, what="node n1 INFERENCE", evidence=lambda: str(debug(api)),
    )  # fmt: skip


def chat_text(api) -> str:
    r = requests.post(api.public_url + "/v1/chat/completions", json={"model": MODEL, "messages": []}, timeout=10)
    assert r.status_code == 200, r.text
    return r.text


def upgrade(sim, version: str, lead_blocks: int = 6) -> int:
    from harness.chain.client import ChainClient

    key = Key.from_mnemonic(DEV_MNEMONIC)
    from harness.chain.schedule import propose_until_passed

    with ChainClient(sim.rpc_url) as client:  # proposed again further out when a loaded machine lets the chain outrun it
        _, height = propose_until_passed(
            client, version, lambda extra: client.earliest_upgrade_height()[0] + lead_blocks + extra, proposer=key, voters=[key]
        )
    return height


def test_governance_upgrade_moves_all_traffic_and_stops_old_once(testbed, tmp_path):
    from harness.mlnode.journal import Journal

    sim, wm = testbed
    journal = Journal(wm.admin_url)
    with ApiNode(config(tmp_path, sim, wm)) as api:
        wait_inference(api)
        assert "v0.3.8" in chat_text(api)
        height = upgrade(sim, "v0.3.9")
        wait_until(lambda: debug(api)["current_node_version"] == "v0.3.9", timeout_s=30, what="API node on v0.3.9")
        sw = debug(api)["switches"][-1]
        assert (sw["version"], sw["height"], sw["source"]) == ("v0.3.9", height, "block")
        wait_inference(api)
        assert "v0.3.9" in chat_text(api)
        grace_ms = contract_for("reference").grace_ms
        after = [
            (e["request"]["method"], e["request"]["url"], int(e["request"]["loggedDate"])) for e in journal.requests(sw["at_ms"])
        ]
        old_stops = [u for m, u, _ in after if m == "POST" and u == "/v0.3.8/api/v1/stop"]
        assert len(old_stops) == 1, after
        stale = [u for _, u, t in after if t > sw["at_ms"] + grace_ms and not u.startswith("/v0.3.9/")]
        assert stale == [], stale
        assert any(u == "/v0.3.9/api/v1/inference/up" for _, u, _ in after)
        assert any(u == "/v0.3.9/v1/chat/completions" for _, u, _ in after)
        assert journal.unmatched() == []
    journal.close()


def test_restart_across_upgrade_uses_new_prefix_first(testbed, tmp_path):
    from harness.mlnode.journal import Journal

    sim, wm = testbed
    journal = Journal(wm.admin_url)
    with ApiNode(config(tmp_path, sim, wm)) as api:
        wait_inference(api)
    height = upgrade(sim, "v0.3.9")
    wait_until(lambda: sim.height > height + 2, timeout_s=30, what="chain past the upgrade height")
    n0 = len(journal.requests())
    with ApiNode(config(tmp_path, sim, wm)) as api:
        wait_inference(api)
        urls = [e["request"]["url"] for e in journal.requests()][n0:]
        assert urls[0].startswith("/v0.3.9/"), urls[:5]
        assert [u for u in urls if not u.startswith("/v0.3.9/")] == ["/v0.3.8/api/v1/stop"]
        assert "v0.3.9" in chat_text(api)
    journal.close()
