"""The API node as a service against a fake CometBFT chain and a recording MLNode (real sockets, real HTTP):
upgrade switching per profile, old-version stop, chat proxy, admin API, websocket drop catch-up, restart, kill -9."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
import yaml

from harness.audit.contracts import contract_for
from harness.model.apinode import ApiNode, ApiNodeConfig, ApiNodeProcess
from harness.util.wait import wait_until
from tests.model.apinode.apinode_support import FakeMLNode, fake_chain_and_mlnode
from tests.support.cometbft_fake import FakeCometBFT

MODEL = "Qwen/Qwen2.5-7B-Instruct"


@pytest.fixture
def fakes():
    with fake_chain_and_mlnode("apinode-fakes") as f:
        yield f


def make_config(tmp_path: Path, chain: FakeCometBFT, ml: FakeMLNode, **extra) -> ApiNodeConfig:
    raw = {
        "chain_node": {"url": chain.url},
        "current_node_version": "v0.3.8",
        "nodes": [
            {"id": "n1", "host": "127.0.0.1", "poc_port": ml.port, "inference_port": ml.port, "models": {MODEL: {"args": []}}}
        ],
        "intervals": {"status_poll_s": 0.2, "reconcile_s": 0.2, "client_refresh_s": 0.6, "pool_health_s": 0.2},
        "state_file": str(tmp_path / "state.yaml"),
        **extra,
    }
    return ApiNodeConfig.from_dict(raw, config_path=tmp_path / "api.yaml")


def debug(api) -> dict:
    return requests.get(api.admin_url + "/admin/v1/debug/state", timeout=5).json()


def node_status(api) -> str:
    return requests.get(api.admin_url + "/admin/v1/nodes", timeout=5).json()[0]["state"]["current_status"]


def wait_inference(api) -> None:
    wait_until(
        lambda: node_status(api) == "INFERENCE", timeout_s=10, what="node n1 INFERENCE", evidence=lambda: json.dumps(debug(api))
    )


def chat(api, **body) -> requests.Response:
    return requests.post(api.public_url + "/v1/chat/completions", json={"model": MODEL, "messages": [], **body}, timeout=10)


def step_until(loop, chain, api, pred, *, what: str, max_blocks: int = 20):
    """Advance one block at a time, each time waiting until the API node processed it, until pred() holds."""
    for _ in range(max_blocks):
        if pred():
            return
        chain.produce()
        wait_until(lambda: debug(api)["current_height"] >= chain.height, timeout_s=5, what=f"API node at height {chain.height}")
    assert pred(), what


@pytest.mark.parametrize("profile", ["reference", "pr228"])
def test_upgrade_switches_prefix_and_stops_old_once(fakes, tmp_path, profile):
    loop, chain, ml = fakes
    with ApiNode(make_config(tmp_path, chain, ml, profile=profile)) as api:
        wait_until(lambda: debug(api)["listener"]["connected"], timeout_s=10, what="listener connected")
        wait_inference(api)
        assert "v0.3.8" in chat(api).json()["choices"][0]["message"]["content"]
        assert chain.frames[:1] == ['{"jsonrpc": "2.0", "method": "subscribe", "id": "1", "params": ["tm.event=\'NewBlock\'"]}']
        h = chain.height + 3
        chain.upgrades[h] = "v0.3.9"
        step_until(loop, chain, api, lambda: debug(api)["current_node_version"] == "v0.3.9", what="switch to v0.3.9")
        sw = debug(api)["switches"][-1]
        assert sw["version"] == "v0.3.9"
        assert sw["height"] == h + (-1 if profile == "pr228" else 0)
        grace_s = contract_for(profile, refresh_tick_s=api.cfg.intervals.client_refresh_s, block_time_s=0.1).grace_ms / 1000
        # the old version gets exactly one stop per node (after the client refresh: at once, or on the ticker)
        wait_until(lambda: debug(api)["last_used_version"] == "v0.3.9", timeout_s=5, what="client refresh done")
        # brought up on the new version (pr228: by the reconcile after its status poll found v0.3.9 STOPPED)
        wait_until(
            lambda: any(c.path == "/v0.3.9/api/v1/inference/up" for c in ml.calls), timeout_s=5, what="v0.3.9 inference/up"
        )
        wait_inference(api)
        assert "v0.3.9" in chat(api).json()["choices"][0]["message"]["content"]
        wait_until(lambda: any(c.at_s > sw["at_ms"] / 1000 + grace_s for c in ml.calls), timeout_s=5, what="traffic after grace")
        after = [c for c in ml.calls if c.at_s > sw["at_ms"] / 1000]
        old_stops = [c for c in after if c.path == "/v0.3.8/api/v1/stop"]
        assert len(old_stops) == 1, [c.path for c in after]
        late = [c.path for c in after if c.at_s > sw["at_ms"] / 1000 + grace_s and c.version != "v0.3.9"]
        assert late == []
        mgmt = [c.path for c in after if c.path.startswith("/v0.3.9/api/v1/")]
        assert "/v0.3.9/api/v1/inference/up" in mgmt
        assert "/v0.3.9/api/v1/state" in mgmt
        assert all(c.version for c in ml.calls), "unversioned MLNode request"
        assert "Content-Type" not in next(c for c in ml.calls if c.path.endswith("/inference/up")).headers


def test_pr228_skips_intermediate_pending_plan(fakes, tmp_path):
    loop, chain, ml = fakes
    with ApiNode(make_config(tmp_path, chain, ml, profile="pr228")) as api:
        wait_until(lambda: debug(api)["listener"]["connected"], timeout_s=10, what="listener connected")
        h1, h2 = chain.height + 3, chain.height + 5
        chain.upgrades.update({h1: "v0.3.9", h2: "v0.3.10"})
        step_until(loop, chain, api, lambda: debug(api)["current_node_version"] == "v0.3.10", what="switch to v0.3.10")
        assert [(s["version"], s["height"]) for s in debug(api)["switches"]] == [("v0.3.10", h2 - 1)]


def test_websocket_drop_reconnects_and_catches_up(fakes, tmp_path):
    loop, chain, ml = fakes
    with ApiNode(make_config(tmp_path, chain, ml)) as api:
        wait_until(lambda: debug(api)["listener"]["connected"], timeout_s=10, what="listener connected")
        h = chain.height + 3
        chain.upgrades[h] = "v0.3.9"
        step_until(loop, chain, api, lambda: debug(api)["upgrade_plans"] != [], what="plan seen")
        chain.drop_websockets()
        chain.produce(4, announce=False)  # blocks produced while the socket is down
        wait_until(lambda: debug(api)["current_height"] == chain.height, timeout_s=10, what="caught up after drop")
        d = debug(api)
        assert d["listener"]["drops"] >= 1
        assert d["listener"]["connects"] >= 2
        assert d["listener"]["caught_up"] >= 3
        assert d["current_node_version"] == "v0.3.9"
        assert d["switches"][-1]["height"] == h
        assert d["switches"][-1]["source"] == "block"


def test_gap_hiding_the_plan_is_closed_by_chain_version(fakes, tmp_path):
    _loop, chain, ml = fakes
    with ApiNode(make_config(tmp_path, chain, ml)) as api:
        wait_until(lambda: debug(api)["listener"]["connected"], timeout_s=10, what="listener connected")
        chain.upgrades[chain.height + 2] = "v0.3.9"
        chain.drop_websockets()
        chain.produce(5, announce=False)  # the record is gone before the API node is back
        wait_until(lambda: debug(api)["current_node_version"] == "v0.3.9", timeout_s=10, what="version from chain after gap")
        assert debug(api)["switches"][-1]["source"] == "catch-up-sync"


def test_restart_across_upgrade_height_catches_up(fakes, tmp_path):
    _loop, chain, ml = fakes
    cfg = make_config(tmp_path, chain, ml)
    with ApiNode(cfg) as api:
        wait_inference(api)
    chain.upgrades[chain.height + 2] = "v0.3.9"
    chain.produce(5, announce=False)  # upgrade passes while the API node is down; the record is gone
    assert chain.upgrades == {}
    assert chain.version == "v0.3.9"
    n0 = len(ml.calls)
    with ApiNode(make_config(tmp_path, chain, ml)) as api:
        wait_inference(api)
        first = ml.calls[n0]
        assert first.version == "v0.3.9", first.path
        assert debug(api)["switches"][-1]["source"] == "chain-sync"
        old = [c.path for c in ml.calls[n0:] if c.version != "v0.3.9"]
        assert old == ["/v0.3.8/api/v1/stop"]  # one stop for the version it was on before the restart


def test_chat_proxy_errors_and_streaming(fakes, tmp_path):
    _loop, chain, ml = fakes
    cfg = make_config(tmp_path, chain, ml)
    cfg.nodes[0].models["broken"] = {"args": []}
    with ApiNode(cfg) as api:
        n0 = len(ml.calls)
        r = chat(api, model="unknown-model")
        assert r.status_code == 503
        assert "no MLNode available" in r.json()["error"]
        assert not [c for c in ml.calls[n0:] if c.path.endswith("/chat/completions")]
        wait_inference(api)
        assert chat(api, model="broken").status_code == 500
        r = requests.post(api.public_url + "/v1/chat/completions", json={"model": MODEL, "stream": True}, stream=True, timeout=10)
        chunks = [line for line in r.iter_lines() if line]
        assert r.headers["Content-Type"].startswith("text/event-stream")
        assert len(chunks) == 4
        assert chunks[-1] == b"data: [DONE]"
        assert requests.get(api.public_url + "/v1/status", timeout=5).json() == {"status": "ok"}
        assert requests.get(api.public_url + "/v1/versions", timeout=5).json()["node_version"]["current"] == "v0.3.8"


def test_admin_nodes_validation_and_persistence(fakes, tmp_path):
    _loop, chain, ml = fakes
    with ApiNode(make_config(tmp_path, chain, ml)) as api:
        wait_inference(api)
        state_file = tmp_path / "state.yaml"
        before = state_file.read_bytes()
        bad = [
            ({"id": "n2", "host": "127.0.0.1", "poc_port": ml.port, "inference_port": ml.port, "models": ["m"]}, "models"),
            ({"id": "n1", "host": "127.0.0.1", "poc_port": ml.port, "inference_port": ml.port}, "already exists"),
            ({"id": "n3", "host": "http://x", "poc_port": 1, "inference_port": 1}, "host"),
            ({"id": "n4", "host": "127.0.0.1", "poc_port": "80", "inference_port": 1}, "poc_port"),
        ]
        for body, word in bad:
            r = requests.post(api.admin_url + "/admin/v1/nodes", json=body, timeout=5)
            assert r.status_code == 400, r.text
            assert word in r.json()["error"], r.text
        r = requests.post(api.admin_url + "/admin/v1/nodes", data=b"{not json", timeout=5)
        assert r.status_code == 400
        assert len(requests.get(api.admin_url + "/admin/v1/nodes", timeout=5).json()) == 1
        assert "nodes" not in yaml.safe_load(state_file.read_text())
        assert state_file.read_bytes()[:40] == before[:40]
        good = {"id": "n2", "host": "127.0.0.1", "poc_port": ml.port, "inference_port": ml.port, "models": {MODEL: {"args": []}}}
        assert requests.post(api.admin_url + "/admin/v1/nodes", json=good, timeout=5).status_code == 200
        assert [n["id"] for n in yaml.safe_load(state_file.read_text())["nodes"]] == ["n1", "n2"]
        r = requests.post(api.admin_url + "/admin/v1/nodes/n1/disable", timeout=5)
        assert r.json() == {"message": "node disabled successfully", "node_id": "n1"}
        wait_until(lambda: node_status(api) == "STOPPED", timeout_s=5, what="disabled node stopped")
        assert requests.post(api.admin_url + "/admin/v1/nodes/nope/enable", timeout=5).status_code == 404
        assert requests.delete(api.admin_url + "/admin/v1/nodes/n2", timeout=5).status_code == 200
        assert [n["id"] for n in yaml.safe_load(state_file.read_text())["nodes"]] == ["n1"]
        pool = requests.get(api.admin_url + "/admin/v1/debug/chain-pool", timeout=5).json()
        assert {"size", "healthy", "replaced", "failures", "slots"} <= set(pool)
        assert pool["size"] == 3
        assert {"index", "healthy", "generation", "last_error"} <= set(pool["slots"][0])


def test_poc_phases_and_callbacks(fakes, tmp_path):
    loop, chain, ml = fakes
    cfg = make_config(tmp_path, chain, ml, intervals={"status_poll_s": 5, "reconcile_s": 0.2, "poc_every_blocks": 10})
    with ApiNode(cfg) as api:
        wait_inference(api)
        step_until(loop, chain, api, lambda: "/v0.3.8/api/v1/pow/validate" in ml.paths() and debug(api)["poc_phase"] == "IDLE",
                   what="PoC cycle", max_blocks=16)  # fmt: skip
        wait_until(lambda: "/v0.3.8/api/v1/inference/up" in ml.paths()[-3:], timeout_s=5, what="back to inference")
        paths = ml.paths("POST")
        for p in ("/v0.3.8/api/v1/pow/init/generate", "/v0.3.8/api/v1/pow/init/validate", "/v0.3.8/api/v1/pow/validate"):
            assert p in paths
        dto = json.loads(next(c.body for c in ml.calls if c.path.endswith("/pow/init/generate")))
        assert dto["url"] == api.callback_url + "/v1/poc-batches"
        assert dto["batch_size"] == 100
        r = requests.post(dto["url"] + "/generated", data=json.dumps({"nonces": [1]}), timeout=5)
        assert r.status_code == 200
        got = requests.get(api.admin_url + "/admin/v1/debug/poc-batches", timeout=5).json()
        assert got["generated"][0]["body"] == {"nonces": [1]}


def test_kill_9_mid_run_keeps_state_consistent(fakes, tmp_path):
    loop, chain, ml = fakes
    cfg = make_config(tmp_path, chain, ml)
    cfg_path = cfg.write(tmp_path / "api.yaml")
    state_file = tmp_path / "state.yaml"
    chain.upgrades[chain.height + 6] = "v0.3.9"
    clock = loop.submit(chain.autoblocks(0.02, 400))  # a state write every block while we kill
    try:
        proc = ApiNodeProcess(cfg_path, tmp_path / "logs")
        heights = []
        for _ in range(3):
            proc.start()
            start_h = yaml.safe_load(state_file.read_text())["current_height"] if state_file.exists() else 0
            wait_until(lambda s=start_h: yaml.safe_load(state_file.read_text())["current_height"] > s + 3,
                       timeout_s=10, what="state advancing", evidence=proc.logs)  # fmt: skip
            proc.kill()
            st = yaml.safe_load(state_file.read_text())  # must parse: never half-written
            assert st["current_node_version"] in ("v0.3.8", "v0.3.9")
            heights.append(st["current_height"])
        assert heights == sorted(heights)
        proc.start()
        wait_until(
            lambda: debug(proc)["current_node_version"] == "v0.3.9", timeout_s=10, what="v0.3.9 after crashes", evidence=proc.logs
        )
        st = yaml.safe_load(state_file.read_text())
        assert [s["version"] for s in st["switches"]].count("v0.3.9") == 1
        proc.stop()  # strays are looked for once no write is in flight (a block every 20 ms writes the state)
        assert not list(tmp_path.glob(".state.yaml.*.tmp"))
    finally:
        clock.cancel()


STOP_OLD, UP_NEW = "/v0.3.8/api/v1/stop", "/v0.3.9/api/v1/inference/up"


@pytest.mark.parametrize(("bring_up", "first"), [("at_switch", STOP_OLD), ("before_stop", UP_NEW)])
def test_bring_up_order_at_the_switch(fakes, tmp_path, bring_up, first):
    loop, chain, ml = fakes
    cfg = make_config(tmp_path, chain, ml, profile="reference", profile_overrides={"bring_up": bring_up})
    with ApiNode(cfg) as api:
        wait_until(lambda: debug(api)["listener"]["connected"], timeout_s=10, what="listener connected")
        wait_inference(api)
        n0 = len(ml.calls)
        chain.upgrades[chain.height + 2] = "v0.3.9"
        step_until(loop, chain, api, lambda: debug(api)["last_used_version"] == "v0.3.9", what="switch and refresh")
        switch = [c.path for c in ml.calls[n0:] if c.path in (STOP_OLD, UP_NEW)]
        assert switch[0] == first, switch  # the knob's order
        assert set(switch) == {STOP_OLD, UP_NEW}, switch


@pytest.mark.parametrize(("profile", "attempts"), [("reference", "many"), ("pr228", 1)])
def test_a_failed_chat_is_retried_per_profile(fakes, tmp_path, profile, attempts):
    _loop, chain, ml = fakes
    cfg = make_config(tmp_path, chain, ml, profile=profile)
    cfg.nodes[0].models["broken"] = {"args": []}
    with ApiNode(cfg) as api:
        wait_inference(api)
        n0 = len(ml.calls)
        r = chat(api, model="broken")  # the MLNode answers 500 every time
        sent = [c for c in ml.calls[n0:] if c.path.endswith("/chat/completions")]
        assert r.status_code == 500, r.text
        assert r.json()["error"].startswith("MLNode n1 answered HTTP 500"), r.text
        assert r.json()["version"] == "v0.3.8"
        if attempts == 1:
            assert len(sent) == 1, [c.path for c in sent]
        else:  # retried on the current version for the profile's 2 s, then the last failure, naming the attempts
            assert len(sent) > 1, [c.path for c in sent]
            assert {c.version for c in sent} == {"v0.3.8"}
            assert f"({len(sent)} attempts in 2000 ms)" in r.json()["error"], r.text
