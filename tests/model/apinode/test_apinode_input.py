"""The API node's boundaries under hostile input: its three HTTP apps (public, admin, callback), its config and state
files, and the versions the chain hands it. Every refusal is a 4xx JSON error with a bounded message; the server
keeps answering; its state (nodes, versions, state file) is unchanged; nothing unbounded reaches its log."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import requests
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.errors import ConfigError
from harness.model.apinode import ApiNode, ApiNodeConfig
from harness.model.apinode.config import NodeConfig
from harness.model.apinode.mlnode import MLNodeError, base_url
from harness.model.apinode.state import StateStore, VersionState
from harness.model.apinode.upgrade import Plan, decide_switch, merge_plans, plan_from_upgrade_info
from harness.util.wait import wait_until
from tests.model.apinode.apinode_support import FakeMLNode, fake_chain_and_mlnode
from tests.support.cometbft_fake import FakeCometBFT

MODEL = "Qwen/Qwen2.5-7B-Instruct"
DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.fixture(scope="module")
def fakes():
    with fake_chain_and_mlnode("apinode-input-fakes") as f:
        yield f


def config(tmp_path: Path, chain: FakeCometBFT, ml: FakeMLNode) -> ApiNodeConfig:
    raw = {
        "chain_node": {"url": chain.url},
        "nodes": [{"id": "n1", "host": "127.0.0.1", "poc_port": ml.port, "inference_port": ml.port, "models": {MODEL: {}}}],
        "intervals": {"status_poll_s": 0.2, "reconcile_s": 0.2, "client_refresh_s": 0.6, "pool_health_s": 0.2},
        "state_file": str(tmp_path / "state.yaml"),
    }
    return ApiNodeConfig.from_dict(raw, config_path=tmp_path / "api.yaml")


@pytest.fixture(scope="module")
def api(fakes, tmp_path_factory):
    _, chain, ml = fakes
    with ApiNode(config(tmp_path_factory.mktemp("apinode"), chain, ml)) as node:
        wait_until(lambda: snapshot(node)[2] == "v0.3.8", timeout_s=15, what="the API node synced and set last_used_version")
        yield node


def snapshot(api) -> tuple:
    nodes = requests.get(api.admin_url + "/admin/v1/nodes", timeout=5).json()
    state = requests.get(api.admin_url + "/admin/v1/debug/state", timeout=5).json()
    return [n["node"] for n in nodes], state["current_node_version"], state["last_used_version"], state["switches"]


def assert_refused(resp: requests.Response, status: int | tuple[int, ...], needle: str = "") -> None:
    statuses = status if isinstance(status, tuple) else (status,)
    assert resp.status_code in statuses, (resp.status_code, resp.text[:300])
    assert resp.headers["Content-Type"].startswith("application/json"), resp.headers
    assert "Traceback" not in resp.text
    assert len(resp.text) < 3000, "a refusal never echoes unbounded input"
    assert needle in resp.json()["error"], resp.json()


NODE = {"id": "n2", "host": "127.0.0.1", "poc_port": 9, "inference_port": 9}
BAD_NODES = [
    ({**NODE, "id": "x" * 1_000_000}, "node.id"),
    ({**NODE, "id": "a/b"}, "node.id"),
    ({**NODE, "id": "a?b"}, "node.id"),
    ({**NODE, "id": " n2"}, "node.id"),
    ({**NODE, "id": ""}, "node.id"),
    ({**NODE, "host": "127.0.0.1:1@evil"}, "host"),
    ({**NODE, "host": "user@127.0.0.1"}, "host"),
    ({**NODE, "host": "127.0.0.1/x"}, "host"),
    ({**NODE, "host": "http://x"}, "host"),
    ({**NODE, "host": "h" * 300}, "host"),
    ({**NODE, "poc_port": 70000}, "poc_port"),
    ({**NODE, "poc_port": True}, "poc_port"),
    ({**NODE, "inference_port": 0}, "inference_port"),
    ({**NODE, "poc_segment": "/.."}, "poc_segment"),
    ({**NODE, "poc_segment": "/a?b"}, "poc_segment"),
    ({**NODE, "inference_segment": "/a#b"}, "inference_segment"),
    ({**NODE, "inference_segment": "/%2e%2e"}, "inference_segment"),
    ({**NODE, "poc_segment": "nope"}, "poc_segment"),
    ({**NODE, "max_concurrent": 10**30}, "max_concurrent"),
    ({**NODE, "max_concurrent": 0}, "max_concurrent"),
    ({**NODE, "hardware": [{"type": "H100", "count": -1}]}, "hardware[0].count"),
    ({**NODE, "hardware": [{"type": "H100", "count": 1, "evil": 1}]}, "hardware[0]"),
    ({**NODE, "hardware": [[]] * 100}, "hardware"),
    ({**NODE, "models": {f"m{i}": {} for i in range(100)}}, "models"),
    ({**NODE, "models": {"m": {"args": ["x" * 5000]}}}, "models"),
    ({**NODE, "surprise": 1}, "unknown field"),
    ([NODE], "expected a mapping"),
]


@pytest.mark.parametrize(("node", "needle"), BAD_NODES, ids=[f"{i}-{n}" for i, (_, n) in enumerate(BAD_NODES)])
def test_admin_refuses_bad_node_fields(api, node, needle):
    before = snapshot(api)
    assert_refused(requests.post(api.admin_url + "/admin/v1/nodes", json=node, timeout=10), 400, needle)
    assert snapshot(api) == before


BODIES = [
    (DEEP, 400, "nested deeper"),
    (b"[" * 40 + b"]" * 40, 400, "nested deeper"),
    (b'{"id": NaN}', 400, "not valid JSON"),
    (b'{"id": 1e400}', 400, "not valid JSON"),
    (b'{"id": ' + b"1" * 5000 + b"}", 400, "not valid JSON"),
    (b"\xff\xfe{}", 400, "not valid JSON"),
    (b"{", 400, "not valid JSON"),
    (b"x" * (2 << 20), 413, "larger than"),
]
ENDPOINTS = [
    ("admin", "/admin/v1/nodes"),
    ("public", "/v1/chat/completions"),
    ("callback", "/v1/poc-batches/generated"),
    ("callback", "/mlnode/v1/poc-batches/validated"),
]


@pytest.mark.parametrize(("body", "status", "needle"), BODIES, ids=["deep", "depth-40", "nan", "1e400", "digits", "binary",
                                                                     "truncated", "2MiB"])  # fmt: skip
@pytest.mark.parametrize(("app", "path"), ENDPOINTS, ids=[p for _, p in ENDPOINTS])
def test_malformed_bodies_get_a_4xx_json_error_on_every_app(api, app, path, body, status, needle):
    before = snapshot(api)
    url = {"admin": api.admin_url, "public": api.public_url, "callback": api.callback_url}[app]
    assert_refused(requests.post(url + path, data=body, headers={"Content-Type": "application/json"}, timeout=30), status, needle)
    assert requests.get(api.public_url + "/v1/status", timeout=5).status_code == 200
    assert snapshot(api) == before


@pytest.mark.parametrize(
    ("method", "path", "status", "needle"),
    [
        ("DELETE", "/admin/v1/nodes/" + "x" * 4000, 400, "node id"),
        ("DELETE", "/admin/v1/nodes/nope", 404, "not found"),
        ("POST", "/admin/v1/nodes/%2e%2e/enable", 400, "node id"),
        ("POST", "/admin/v1/nodes/nope/disable", 404, "not found"),
        ("GET", "/admin/v1/no-such-thing", 404, "no such path"),
        ("PUT", "/admin/v1/nodes", 405, "not allowed"),
    ],
)
def test_admin_paths_are_refused_as_json(api, method, path, status, needle):
    assert_refused(requests.request(method, api.admin_url + path, timeout=10), status, needle)


def test_chat_with_a_huge_model_name_is_refused_and_never_echoed(api):
    resp = requests.post(api.public_url + "/v1/chat/completions", json={"model": "m" * 100_000, "messages": []}, timeout=10)
    assert_refused(resp, 400, "model")


def test_nothing_unbounded_reaches_the_log(api, caplog):
    with caplog.at_level(logging.DEBUG):
        requests.post(api.admin_url + "/admin/v1/nodes", json={**NODE, "id": "x" * 1_000_000}, timeout=10)
        requests.post(api.admin_url + "/admin/v1/nodes", data=DEEP, timeout=10)
        requests.post(api.public_url + "/v1/chat/completions", json={"model": "m" * 100_000}, timeout=10)
    assert all(len(r.getMessage()) < 2000 for r in caplog.records)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
        lambda c: st.lists(c, max_size=4) | st.dictionaries(st.sampled_from([*NODE, "models", "x"]), c, max_size=6),
        max_leaves=25,
    )
)
def test_any_node_body_is_added_or_refused_and_the_server_stays_up(api, body):
    resp = requests.post(api.admin_url + "/admin/v1/nodes", json=body, timeout=10)
    assert resp.status_code in (200, 400), resp.text[:300]
    assert resp.headers["Content-Type"].startswith("application/json")
    if resp.status_code == 200:
        assert requests.delete(api.admin_url + "/admin/v1/nodes/" + resp.json()["id"], timeout=10).status_code == 200
    assert requests.get(api.public_url + "/v1/status", timeout=5).status_code == 200


# -- versions from the chain ----------------------------------------------------------------------------------------
BAD_VERSIONS = ["../__admin/requests/reset#", "v0.3.9\n", " v0.3.9", "v0.3.9/..", "v1", "v0.3.9?x", "x" * 10_000, "v٠.3.9"]


def test_a_malformed_version_from_the_chain_is_never_switched_to_persisted_or_put_in_a_url(fakes, tmp_path):
    _loop, chain, ml = fakes
    chain.version = "v0.3.8"
    calls_before = len(ml.calls)
    cfg = config(tmp_path, chain, ml)
    with ApiNode(cfg) as node:
        wait_until(lambda: snapshot(node)[1] == "v0.3.8" and node.core.listener is not None, timeout_s=10, what="synced")
        start = chain.height
        chain.upgrades = {start + 2 + i: v for i, v in enumerate(BAD_VERSIONS)}
        for _ in range(len(BAD_VERSIONS) + 4):
            chain.produce()
            wait_until(lambda: node.core.state.current_height >= chain.height, timeout_s=10, what="block processed")
        # the chain itself now reports a bad MLNodeVersion too (its EndBlock applied the last bad plan)
        assert chain.version == BAD_VERSIONS[-1]
        node.run(node.core.sync_version_from_chain())
        state = requests.get(node.admin_url + "/admin/v1/debug/state", timeout=5).json()
        assert state["current_node_version"] == "v0.3.8"
        assert state["switches"] == []
        assert state["refused_versions"] >= len(BAD_VERSIONS)
        assert all(c.path.startswith("/v0.3.8/") for c in ml.calls[calls_before:]), [c.path for c in ml.calls[calls_before:]]
    saved = yaml.safe_load(Path(cfg.state_path()).read_text())
    assert saved["current_node_version"] == "v0.3.8"
    assert not any(v in Path(cfg.state_path()).read_text() for v in BAD_VERSIONS[:1])
    chain.version, chain.upgrades = "v0.3.8", {}
    with ApiNode(cfg) as again:  # restarts on its own state file
        assert snapshot(again)[1] == "v0.3.8"


@pytest.mark.parametrize("version", BAD_VERSIONS)
def test_the_upgrade_logic_drops_malformed_versions(version):
    plans = merge_plans([], [Plan(10, version), Plan(20, "v0.3.9")], mode="ordered")
    assert [p.node_version for p in plans] == ["v0.3.9"]
    step = decide_switch([Plan(10, version)], height=10, current="v0.3.8", switch_offset=0)
    assert step.switches == []
    assert step.current == "v0.3.8"
    assert plan_from_upgrade_info("p", 10, json.dumps({"node_version": version})) is None
    with pytest.raises(MLNodeError, match="refusing"):
        base_url("127.0.0.1", 80, "", version)


# -- config and state files -------------------------------------------------------------------------------------------
BASE = {"chain_node": {"url": "http://127.0.0.1:26657"}}


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ({"chain_node": {"url": "http://[::1"}}, "chain_node.url"),
        ({"chain_node": {"url": "http://127.0.0.1:99999"}}, "chain_node.url"),
        ({"chain_node": {"url": "http://u:p@127.0.0.1:1"}}, "chain_node.url"),
        ({"current_height": True}, "current_height"),
        ({"current_height": 2**70}, "current_height"),
        ({"current_height": 1.5}, "current_height"),
        ({"api": {"poc_callback_url": {"a": 1}}}, "api.poc_callback_url"),
        ({"api": {"poc_callback_url": "ftp://x"}}, "api.poc_callback_url"),
        ({"api": {"admin_server_port": 70000}}, "api.admin_server_port"),
        ({"api": {"surprise": 1}}, "unknown key"),
        ({"intervals": {"reconcile_s": float("nan")}}, "intervals.reconcile_s"),
        ({"intervals": {"reconcile_s": float("inf")}}, "intervals.reconcile_s"),
        ({"intervals": {"poc_every_blocks": 10**30}}, "poc_every_blocks"),
        ({"state_file": 5}, "state_file"),
        ({"ready_file": ["x"]}, "ready_file"),
        ({"current_node_version": 3}, "current_node_version"),
        ({"last_used_version": "../x"}, "last_used_version"),
        ({"upgrade_plan": {"height": "12abc", "node_version": "v0.3.9"}}, "upgrade_plan.height"),
        ({"upgrade_plan": {"height": 12, "node_version": "../x"}}, "upgrade_plan.node_version"),
        ({"nodes": [{**NODE, "id": "a/b"}]}, "id"),
        ({"nodes": [NODE] * 300}, "at most 256"),
        ({"profile_overrides": {"pool_size": 10**9}}, "pool_size"),
    ],
)
def test_config_values_are_checked(extra, needle):
    with pytest.raises(ConfigError, match=needle) as info:
        ApiNodeConfig.from_dict({**BASE, **extra})
    assert len(str(info.value)) < 2000


def test_a_users_spaces_around_a_version_are_forgiven_and_never_persisted():
    cfg = ApiNodeConfig.from_dict({**BASE, "current_node_version": " v0.3.9\n", "last_used_version": "v0.3.8 "})
    assert (cfg.current_node_version, cfg.last_used_version) == ("v0.3.9", "v0.3.8")


@pytest.mark.parametrize(
    "content",
    [b"\xff\xfe binary", b"a: [" * 10_000, b"[1, 2]", b"x" * (5 << 20), b"a: &a [*a]"],
    ids=["binary", "deep", "list", "huge", "alias-loop"],
)
def test_config_files_are_refused_not_crashed_on(tmp_path, content):
    path = tmp_path / "api.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError):
        ApiNodeConfig.load(path)
    with pytest.raises(ConfigError, match="does not exist"):
        ApiNodeConfig.load(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="cannot read"):
        ApiNodeConfig.load(tmp_path)


GOOD_STATE = {"format": 1, "current_node_version": "v0.3.9", "last_used_version": "v0.3.8", "current_height": 40,
              "applied_plan_height": 30, "upgrade_plans": [{"name": "p", "height": 50, "node_version": "v0.3.10"}],
              "switches": [{"version": "v0.3.9", "previous": "v0.3.8", "height": 30, "at_ms": 1_796_000_000_000,
                            "plan_height": 30, "source": "block"}]}  # fmt: skip


@pytest.mark.parametrize(
    "change",
    [
        {"last_used_version": "garbage"},
        {"current_height": "40"},
        {"applied_plan_height": -1},
        {"switches": [{**GOOD_STATE["switches"][0], "height": "thirty"}]},
        {"switches": [{**GOOD_STATE["switches"][0], "version": "../x"}]},
        {"switches": [{**GOOD_STATE["switches"][0], "source": "magic"}]},
        {"switches": [{**GOOD_STATE["switches"][0], "at_ms": float("nan")}]},
        {"switches": [{**GOOD_STATE["switches"][0], "extra": 1}]},
        {"upgrade_plans": [{"height": 50, "node_version": "v9"}]},
        {"upgrade_plans": "x"},
        {"nodes": [{**NODE, "host": "a@b"}]},
        {"surprise": True},
    ],
)
def test_a_damaged_state_file_is_refused_and_left_as_it_was(tmp_path, change):
    path = tmp_path / "state.yaml"
    path.write_text(yaml.safe_dump({**GOOD_STATE, **change}))
    before = path.read_bytes()
    with pytest.raises(ConfigError, match="corrupt state file"):
        StateStore(path).load(ApiNodeConfig.from_dict(BASE))
    assert path.read_bytes() == before


def test_a_good_state_file_round_trips(tmp_path):
    path = tmp_path / "state.yaml"
    path.write_text(yaml.safe_dump(GOOD_STATE))
    st = StateStore(path).load(ApiNodeConfig.from_dict(BASE))
    assert st.as_dict() | {"upgrade_plan": None} == {**GOOD_STATE, "upgrade_plan": None}
    assert VersionState.from_dict(st.as_dict(), where="again") == st


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=10), c, max_size=4),
    max_leaves=15,
)


@settings(max_examples=300, deadline=None)
@given(d=st.dictionaries(st.sampled_from([*NODE, "poc_segment", "models", "hardware", "max_concurrent"]), JSONISH))
def test_node_parser_property(d):
    """Any mapping gives a node that survives a round trip, or the documented ConfigError; never another exception."""
    try:
        node = NodeConfig.from_dict(d, where="node")
    except ConfigError as e:
        message = str(e)
        node = None
    if node is None:
        assert message.startswith("node")
        return
    assert NodeConfig.from_dict(node.as_dict(), where="node") == node
    assert base_url(node.host, node.poc_port, node.poc_segment, "v0.3.9").startswith(f"http://{node.host}:{node.poc_port}/v0.3.9")


@settings(max_examples=300, deadline=None)
@given(d=st.dictionaries(st.sampled_from(list(GOOD_STATE)), JSONISH))
def test_state_parser_property(d):
    try:
        st_ = VersionState.from_dict({**GOOD_STATE, **d}, where="state")
    except ConfigError as e:
        message = str(e)
        st_ = None
    if st_ is None:
        assert "corrupt state file" in message
        return
    assert VersionState.from_dict(st_.as_dict(), where="again") == st_
