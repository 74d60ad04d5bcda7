"""ChaosDriver mechanics against a real in-process ChaosProxy and a small real upstream (no testnet):
block windows, one-connection targeting with redial following, window end, pool back to N, the report."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import requests

from harness.chaos import ChaosProxy
from harness.chaos.faults import FaultSpec
from harness.chaos.testing import RpcUpstream
from harness.drive.chaos import ChaosDriver, PoolWatch, replay_decisions, seeded_faults
from harness.errors import ConfigError, WaitTimeout


@dataclass
class Info:
    block_time_s: float = 0.05
    api_profile: str = "reference"


class FakeApi:
    """The API node's debug surface, scripted by the test."""

    def __init__(self) -> None:
        self.pool = {"size": 3, "healthy": 3, "replaced": 0, "failures": 2, "health_interval_s": 0.1,
                     "slots": [{"index": i, "healthy": True} for i in range(3)]}  # fmt: skip
        self.state = {"block_errors": 1, "listener": {"connected": True, "drops": 0}, "upgrade_plans": [], "switches": []}

    def chain_pool(self) -> dict:
        return dict(self.pool, slots=[dict(s) for s in self.pool["slots"]])

    def debug_state(self) -> dict:
        return dict(self.state)

    def set_healthy(self, n: int) -> None:
        self.pool["healthy"] = n
        for i, s in enumerate(self.pool["slots"]):
            s["healthy"] = i < n


class Rpc:
    def __init__(self, up: RpcUpstream) -> None:
        self.up = up

    def height(self) -> int:
        return self.up.height


@dataclass
class FakeTestnet:
    proxy: ChaosProxy
    api: FakeApi
    rpc: Rpc
    info: Info
    mlnodes: tuple = ()


@pytest.fixture
def rig():
    with RpcUpstream() as up, ChaosProxy(up.url, seed=11) as proxy:
        up.height = 5
        yield FakeTestnet(proxy, FakeApi(), Rpc(up), Info()), up


def call(session: requests.Session, url: str, method: str = "abci_query") -> bool:
    try:
        r = session.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": {}}, timeout=5)
        return r.status_code == 200
    except requests.ConnectionError:
        return False


def test_no_proxy_is_a_config_error(rig):
    tn, _ = rig
    tn.proxy = None
    with pytest.raises(ConfigError, match="no chaos proxy the harness controls"):
        ChaosDriver(tn)


def test_add_puts_the_fault_in_a_block_window_and_it_ends(rig):
    tn, up = rig
    with ChaosDriver(tn, progress=lambda m: None) as chaos, requests.Session() as s:
        assert tn.proxy.height == 5  # the driver pushed the chain's height
        win = chaos.add({"fault": "eof"}, blocks=3, start_in=1)
        assert (win.start_height, win.end_height) == (6, 8)
        assert call(s, tn.proxy.url)  # height 5: not yet
        up.height = 6
        chaos.height()
        assert not call(s, tn.proxy.url)  # inside the window
        up.height = 9
        chaos.wait_window_end(win, timeout_s=5)
        assert win.ended_ms is not None
        assert call(s, tn.proxy.url)  # past the window
        with pytest.raises(ConfigError, match="blocks"):
            chaos.add({"fault": "eof"}, blocks=0)


def test_one_pool_connection_is_targeted_and_followed_across_redials(rig):
    tn, up = rig
    a, b = requests.Session(), requests.Session()
    with ChaosDriver(tn, progress=lambda m: None) as chaos, a, b:
        assert call(a, tn.proxy.url)
        assert call(b, tn.proxy.url)
        ids = chaos.pool_connection_ids()
        assert len(ids) == 2
        win = chaos.on_pool_connection("eof", blocks=2, index=0)
        assert win.spec["target"]["connection_id"] == ids[0]
        assert len(win.fault_ids) > 1  # redial followers installed up front
        assert call(b, tn.proxy.url)  # the other connection is untouched
        assert not call(a, tn.proxy.url)  # the targeted one: EOF
        assert not call(a, tn.proxy.url)  # its redial: EOF again (followed)
        assert call(b, tn.proxy.url)
        up.height = 7
        chaos.wait_window_end(win, timeout_s=5)
        assert call(a, tn.proxy.url)  # the window is over: the redial works
        out = chaos.outcome()
    assert out.faults_applied == {"eof": 2}
    assert (out.report.failed, out.report.longest_failure_streak) == (2, 2)
    assert win.conn_ids[0] == ids[0]
    assert len(win.conn_ids) == 2
    assert (out.api_chain_failures, out.api_block_errors) == (0, 0)  # deltas from the driver's start
    assert f"seed={tn.proxy.seed}" in out.text()


def test_pool_connection_ids_leave_out_websockets(rig):
    tn, _ = rig
    from websockets.sync.client import connect

    with ChaosDriver(tn, progress=lambda m: None) as chaos, requests.Session() as s:
        assert call(s, tn.proxy.url)
        with connect(tn.proxy.ws_url, open_timeout=5):
            assert len(tn.proxy.connections()) == 2
            assert len(chaos.pool_connection_ids()) == 1
        with pytest.raises(ConfigError, match="out of range"):
            chaos.on_pool_connection("eof", blocks=1, index=5)


def test_wait_pool_back_and_pool_watch(rig):
    tn, _ = rig
    tn.api.set_healthy(1)
    with ChaosDriver(tn, progress=lambda m: None) as chaos:
        assert chaos.heal_interval_s == 0.1
        with pytest.raises(WaitTimeout, match="back to 3 healthy"):
            chaos.wait_pool_back(timeout_s=0.2)
        # the pool heals while the driver waits (right after a poll that still saw one healthy slot)
        polls: list[int] = []
        real_pool = tn.api.chain_pool

        def pool_that_heals() -> dict:
            snapshot = real_pool()
            polls.append(snapshot["healthy"])
            if polls.count(1) == 2:
                tn.api.set_healthy(3)
            return snapshot

        tn.api.chain_pool = pool_that_heals
        chaos.wait_pool_back(timeout_s=5)  # no WaitTimeout: it saw the pool back to 3
        assert polls.count(1) >= 2, polls
        assert polls[-1] == 3, polls
        out = chaos.outcome()
    assert out.min_pool_healthy == 1


def test_pool_watch_unhealthy_time():
    watch = PoolWatch.__new__(PoolWatch)
    watch.samples = [(0.0, 3), (10.0, 0), (30.0, 0), (50.0, 3), (60.0, 3)]
    assert watch.unhealthy_ms(below=1) == 40.0
    assert watch.min_healthy == 0


def test_end_all_keeps_the_figures(rig):
    tn, _ = rig
    with ChaosDriver(tn, progress=lambda m: None) as chaos, requests.Session() as s:
        chaos.add({"fault": "eof", "window": {"max_count": 1}}, blocks=50)
        assert not call(s, tn.proxy.url)
        chaos.end_all()
        assert tn.proxy.faults() == []
        assert call(s, tn.proxy.url)
        out = chaos.outcome()
    assert out.faults_applied == {"eof": 1}
    assert out.report.time_to_heal_ms is not None


def test_seeded_faults_are_valid_specs():
    specs = seeded_faults(0.2)
    assert [s["fault"] for s in specs] == ["eof", "reset", "latency", "close_idle"]
    for spec in specs:
        parsed = FaultSpec.from_json({**spec, "window": {"max_count": 1}})
        assert parsed.target.probability == 0.2


def test_replay_same_seed_same_decisions_other_seed_differs():
    specs = seeded_faults(0.3)
    first = replay_decisions(5, specs, calls=40)
    assert first == replay_decisions(5, specs, calls=40)
    assert any(k[-1] for k in first)
    assert [k[-1] for k in first] != [k[-1] for k in replay_decisions(6, specs, calls=40)]


@pytest.mark.parametrize("seed", [0, 7])
def test_same_seed_replays_the_same_decisions(seed: int) -> None:
    """The seeded path's replay (scenarios/test_chaos_seeded_path.py): the same seed, faults and request sequence give
    the same decisions; another seed does not."""
    specs = seeded_faults(0.2)
    first = replay_decisions(seed, specs)
    assert first == replay_decisions(seed, specs), "same seed, same faults, same requests: the decisions differ"
    assert any(k[-1] for k in first), "no fault applied: the comparison proves nothing"
    other = replay_decisions(seed + 1, specs)
    assert [k[-1] for k in first] != [k[-1] for k in other], f"seed {seed + 1} made the same decisions as seed {seed}"
