"""Pure parts of the API node: switch tables per profile, plan merging, URL rules, config validation, state files."""

from __future__ import annotations

import os
import socket

import pytest
import yaml

from harness.errors import ConfigError
from harness.model.apinode import PROFILES, ApiNodeConfig
from harness.model.apinode.listener import parse_new_block, subscribe_frames
from harness.model.apinode.mlnode import base_url, join_path
from harness.model.apinode.profiles import resolve_profile
from harness.model.apinode.state import StateStore, VersionState, atomic_write
from harness.model.apinode.upgrade import Plan, decide_switch, merge_plans


def run_blocks(profile: str, listed_by_height: dict[int, list[Plan]], heights: range, start: str = "v0.3.8"):
    """Feed the chain's listing at each height through merge + decide, like ApiNodeCore.on_heights does."""
    prof = PROFILES[profile]
    current, pending, applied, switches = start, [], 0, []
    for h in heights:
        listed = [pl for pl in listed_by_height.get(h, []) if pl.height > applied]
        pending = merge_plans(pending, listed, mode=prof.plan_merge)
        step = decide_switch(pending, height=h, current=current, switch_offset=prof.switch_offset, applied_height=applied)
        pending, applied, current = step.pending, step.applied_height, step.current
        switches += [(s.height, s.version) for s in step.switches]
    return switches, current


def chain_listing(plans: list[Plan], heights: range) -> dict[int, list[Plan]]:
    """What PartialUpgradeAll lists while processing block h: entries with height >= h-1 (deleted at the end of H+1)."""
    return {h: [pl for pl in plans if pl.height >= h - 1] for h in heights}


V9, V10 = Plan(20, "v0.3.9", "a"), Plan(30, "v0.3.10", "b")


@pytest.mark.parametrize(
    ("profile", "plans", "expected_switches", "final"),
    [
        ("reference", [V9], [(20, "v0.3.9")], "v0.3.9"),
        ("pr228", [V9], [(19, "v0.3.9")], "v0.3.9"),
        ("reference", [V9, V10], [(20, "v0.3.9"), (30, "v0.3.10")], "v0.3.10"),
        ("pr228", [V9, V10], [(29, "v0.3.10")], "v0.3.10"),  # the last plan overwrites: v0.3.9 is skipped
        ("reference", [Plan(20, "v0.3.8", "same")], [], "v0.3.8"),
        ("reference", [V9, Plan(21, "v0.3.10", "c")], [(20, "v0.3.9"), (21, "v0.3.10")], "v0.3.10"),
    ],
)
def test_switch_table(profile, plans, expected_switches, final):
    switches, current = run_blocks(profile, chain_listing(plans, range(1, 40)), range(1, 40))
    assert switches == expected_switches
    assert current == final


def test_switch_sequential_upgrades_scheduled_after_previous():
    """v0.3.10 scheduled only after v0.3.9 switched (the sequencing rule): both profiles take both steps."""
    for profile, expected in (("reference", [(20, "v0.3.9"), (30, "v0.3.10")]), ("pr228", [(19, "v0.3.9"), (29, "v0.3.10")])):
        listing = {h: [pl for pl in ([V9] + ([V10] if h >= 22 else [])) if pl.height >= h - 1] for h in range(1, 40)}
        assert run_blocks(profile, listing, range(1, 40)) == (expected, "v0.3.10")


def test_catch_up_processes_missed_heights_in_order():
    step = decide_switch([V9, V10], height=35, current="v0.3.8", switch_offset=0)
    assert [(s.version, s.previous) for s in step.switches] == [("v0.3.9", "v0.3.8"), ("v0.3.10", "v0.3.9")]
    assert step.pending == []
    assert step.applied_height == 30


def test_stale_listing_never_switches_back():
    step = decide_switch([V9], height=31, current="v0.3.10", switch_offset=0, applied_height=30)
    assert step.switches == []
    assert step.current == "v0.3.10"


def test_merge_modes():
    assert merge_plans([V9], [V10], mode="ordered") == [V9, V10]
    assert merge_plans([V9], [V10, V9], mode="last_wins") == [V10]
    assert merge_plans([V9], [], mode="last_wins") == [V9]
    assert merge_plans([], [Plan(5, "", "binaries only")], mode="ordered") == []


def test_profile_overrides_are_checked_per_knob():
    assert resolve_profile("pr228", {"pool_size": 4}).pool_size == 4
    assert resolve_profile("reference", {"bring_up": "next_tick"}).bring_up == "next_tick"
    with pytest.raises(ConfigError, match="profile_overrides.bring_up"):
        resolve_profile("reference", {"bring_up": "later"})
    with pytest.raises(ConfigError, match="profile_overrides.client_refresh"):
        resolve_profile("reference", {"client_refresh": "sometimes"})


@pytest.mark.parametrize(
    ("host", "port", "segment", "version", "path", "url"),
    [
        ("h", 8080, "", "v0.3.9", "/api/v1/state", "http://h:8080/v0.3.9/api/v1/state"),
        ("h", 8080, "", "", "/api/v1/state", "http://h:8080/api/v1/state"),
        ("h", 5000, "", "v0.3.9", "/v1/chat/completions", "http://h:5000/v0.3.9/v1/chat/completions"),
        ("h", 5000, "/seg", "v0.3.9", "/v1/chat/completions", "http://h:5000/v0.3.9/seg/v1/chat/completions"),
        ("h", 5000, "/seg", "", "/health", "http://h:5000/seg/health"),
        ("h", 5000, "/seg/", "v0.3.9", "//tokenize", "http://h:5000/v0.3.9/seg/tokenize"),
        ("h", 8080, "", "v0.3.9", "api/v1/x/", "http://h:8080/v0.3.9/api/v1/x/"),
    ],
)
def test_url_rules(host, port, segment, version, path, url):
    assert join_path(base_url(host, port, segment, version), path) == url


def test_subscribe_frames_are_upstreams():
    frames = subscribe_frames()
    assert frames[0] == '{"jsonrpc": "2.0", "method": "subscribe", "id": "1", "params": ["tm.event=\'NewBlock\'"]}'
    assert [f.split('"id": "')[1][0] for f in frames] == ["1", "2", "3", "4"]
    ev = {"id": "1", "result": {"data": {"type": "tendermint/event/NewBlock", "value": {"block": {"header": {"height": "7"}}}}}}
    assert parse_new_block(ev) == (7, "")
    assert parse_new_block({**ev, "id": 1}) is None  # numeric ids are dropped, like upstream


BASE = {"chain_node": {"url": "http://127.0.0.1:26657"}, "current_node_version": "v0.3.8"}
NODE = {"id": "n1", "host": "127.0.0.1", "poc_port": 8080, "inference_port": 5000, "models": {"m": {"args": []}}}


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"profile": "pr999"}, "profile"),
        ({"chain_node": {}}, "chain_node.url"),
        ({"current_node_version": "3.0.8"}, "current_node_version"),
        ({"nodes": [NODE, NODE]}, "duplicate node id 'n1'"),
        ({"nodes": [{**NODE, "models": ["m"]}]}, "nodes[n1].models: must be a map"),
        ({"intervals": {"status_poll_s": 0}}, "intervals.status_poll_s"),
        ({"upgrade_plan": {"name": "x", "height": 5, "node_version": "vX"}}, "upgrade_plan.node_version"),
    ],
)
def test_config_errors_name_the_field(patch, field):
    with pytest.raises(ConfigError) as e:
        ApiNodeConfig.from_dict({**BASE, **patch})
    assert field in str(e.value)


def test_config_port_in_use_names_the_field():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        cfg = ApiNodeConfig.from_dict({**BASE, "api": {"admin_server_port": s.getsockname()[1]}})
        with pytest.raises(ConfigError, match="api.admin_server_port"):
            cfg.check_ports_free()


def test_config_round_trip(tmp_path):
    cfg = ApiNodeConfig.from_dict({**BASE, "nodes": [NODE], "profile": "pr228", "intervals": {"pool_health_s": 0.1}})
    path = cfg.write(tmp_path / "api.yaml")
    again = ApiNodeConfig.load(path)
    assert again.to_dict() == cfg.to_dict()
    assert again.state_path() == tmp_path / "api.state.yaml"
    assert again.ws_url == "ws://127.0.0.1:26657/websocket"


def test_state_persist_and_reload(tmp_path):
    cfg = ApiNodeConfig.from_dict(BASE)
    store = StateStore(tmp_path / "s.yaml")
    st = store.load(cfg)
    st.current_node_version, st.current_height, st.upgrade_plans = "v0.3.9", 42, [V10]
    store.save(st)
    again = StateStore(tmp_path / "s.yaml").load(cfg)
    assert (again.current_node_version, again.current_height, again.upgrade_plans) == ("v0.3.9", 42, [V10])


def test_atomic_write_leaves_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "s.yaml"
    atomic_write(path, b"current_node_version: v0.3.8\n")

    def boom(*_a):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, b"current_node_version: v0.3.9\n" * 100)
    assert yaml.safe_load(path.read_text()) == {"current_node_version": "v0.3.8"}
    assert [p.name for p in tmp_path.iterdir()] == ["s.yaml"]  # no temp file left behind


def test_corrupt_state_is_a_clear_error(tmp_path):
    (tmp_path / "s.yaml").write_text("current_node_version: [\n")
    with pytest.raises(ConfigError, match="delete it"):
        StateStore(tmp_path / "s.yaml").load(ApiNodeConfig.from_dict(BASE))
    assert VersionState.from_config(ApiNodeConfig.from_dict(BASE)).current_node_version == "v0.3.8"
