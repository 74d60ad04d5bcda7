"""The proxy times every NewBlock it hands the API node and holds one back when asked (harness/chaos/holds.py):
against the CometBFT fake, a real websocket client behind the proxy, in-process and through the control API."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

from harness.chaos import ChaosProxy
from harness.chaos.control import ChaosControl
from harness.errors import ConfigError
from harness.util.wait import wait_until
from tests.support.cometbft_fake import FakeCometBFT


@pytest.fixture
def chain() -> Iterator[FakeCometBFT]:
    fake = FakeCometBFT(height=10).start()
    yield fake
    fake.stop()


@pytest.fixture
def proxy(chain: FakeCometBFT) -> Iterator[ChaosProxy]:
    with ChaosProxy(chain.url, seed=1) as p:
        yield p


@pytest.fixture
def client(proxy: ChaosProxy, chain: FakeCometBFT) -> Iterator[ClientConnection]:
    with ws_connect(proxy.ws_url) as ws:
        ws.send(json.dumps({"jsonrpc": "2.0", "method": "subscribe", "id": "1", "params": ["tm.event='NewBlock'"]}))
        assert json.loads(ws.recv(timeout=5))["id"] == "1"
        wait_until(lambda: chain.subscribers() == 1, timeout_s=5, what="the subscription at the chain")
        yield ws


def next_height(ws: ClientConnection, timeout_s: float = 5.0) -> int:
    return int(json.loads(ws.recv(timeout=timeout_s))["result"]["data"]["value"]["block"]["header"]["height"])


def hold_of(proxy: ChaosProxy, height: int):
    return next(h for h in proxy.holds() if h.height == height)


def test_every_delivery_is_timed_with_its_connection(proxy, chain, client) -> None:
    chain.produce(3)
    assert [next_height(client) for _ in range(3)] == [11, 12, 13]
    deliveries = proxy.deliveries(11)
    assert [d.height for d in deliveries] == [11, 12, 13]
    assert len({d.conn_id for d in deliveries}) == 1
    assert deliveries[0].ms <= deliveries[1].ms <= deliveries[2].ms


def test_a_held_block_and_everything_behind_it_wait_for_the_release(proxy, chain, client) -> None:
    proxy.arm_hold(12, 60_000)
    chain.produce(3)
    assert next_height(client) == 11
    wait_until(lambda: hold_of(proxy, 12).outcome == "holding", timeout_s=5, what="block 12 held at the proxy")
    with pytest.raises(TimeoutError):
        client.recv(timeout=0.3)  # 12 and 13 wait behind the hold
    assert [d.height for d in proxy.deliveries(11)] == [11]
    proxy.release_hold(12, "switch seen")
    assert [next_height(client), next_height(client)] == [12, 13]
    hold = hold_of(proxy, 12)
    assert (hold.outcome, hold.reason) == ("released", "switch seen")
    assert hold.delivered_ms is not None
    assert hold.released_ms is not None
    assert hold.delivered_ms >= hold.released_ms
    assert proxy.deliveries(12)[0].ms == hold.delivered_ms


def test_a_hold_runs_out_max_ms_after_the_block_before_reached_the_node(proxy, chain, client) -> None:
    proxy.arm_hold(12, 400)
    chain.produce(2)
    assert [next_height(client), next_height(client)] == [11, 12]
    d11, d12 = proxy.deliveries(11, 12)
    assert d12.ms - d11.ms >= 400
    assert hold_of(proxy, 12).outcome == "expired"


def test_a_hold_whose_connection_died_runs_out_all_the_same(proxy, chain, client) -> None:
    """The API node killed while its NewBlock(B+1) is held (crash point H): no pump is left to deliver the block, and
    the hold still shows as run out once its bound has passed, so a hop waiting on it is not stuck."""
    proxy.arm_hold(12, 300)
    chain.produce(1)
    assert next_height(client) == 11
    chain.produce(1)
    wait_until(lambda: hold_of(proxy, 12).outcome == "holding", timeout_s=5, what="block 12 held")
    client.close()
    wait_until(lambda: chain.subscribers() == 0, timeout_s=5, what="the dead connection gone at the chain")
    wait_until(lambda: hold_of(proxy, 12).outcome == "expired", timeout_s=5, what="the orphaned hold of block 12 to run out")
    assert hold_of(proxy, 12).delivered_ms is None


def test_an_armed_hold_whose_block_never_came_within_its_bound_is_over(proxy, chain, client) -> None:
    """The API node went away after block B-1 (killed at H-1): block B never reaches the proxy's connection, and its
    hold shows as not held once its bound has passed, not as armed for ever."""
    proxy.arm_hold(12, 300)
    chain.produce(1)
    assert next_height(client) == 11
    client.close()
    wait_until(lambda: chain.subscribers() == 0, timeout_s=5, what="the dead connection gone at the chain")
    assert hold_of(proxy, 12).outcome == "armed"
    wait_until(lambda: hold_of(proxy, 12).outcome == "not_held", timeout_s=5, what="block 12's hold to run out")
    assert hold_of(proxy, 12).delivered_ms is None


def test_the_wait_for_the_holds_reads_the_proxy_not_the_watchers_last_poll(proxy, chain, client) -> None:
    """A loaded machine: the watcher's last poll saw block B's hold armed; meanwhile B arrived and is held while the
    chain runs two blocks past B+1. The wait must not end on that old view (the hop would then release B early, and
    the clock's evidence would say "holding"): it reads the proxy, and ends once both holds ran out."""
    from types import SimpleNamespace

    from harness.audit.contracts import contract_for
    from harness.drive.switch_holds import HoldSettings, SwitchHolds

    part = SimpleNamespace(id="p1", chain_proxy=proxy, mlnodes=[])
    settings = HoldSettings(pre_hold_ms=400, hold_ms=400, poll_s=60)  # one poll, before any block: a stale view
    holds = SwitchHolds([part], contract_for("reference"), settings, old="v0.3.8", new="v0.3.9", upgrade_height=12)
    holds.start()
    try:
        wait_until(lambda: 12 in holds.watches[0].holds, timeout_s=5, what="the watcher's one poll")
        chain.produce(5)  # 11 delivered; 12 held, 13..15 behind it
        assert next_height(client) == 11
        wait_until(lambda: hold_of(proxy, 12).outcome == "holding", timeout_s=5, what="block 12 held")
        assert holds.watches[0].holds[12].outcome == "armed", "the watcher's view is the stale one"
        holds.wait(height=lambda: 15)
        outcomes = {o.height: o.outcome for o in holds.outcomes()["p1"]}
        assert outcomes == {12: "expired", 13: "expired"}, outcomes
    finally:
        holds.stop()
    assert [next_height(client) for _ in range(4)] == [12, 13, 14, 15]


def test_a_watcher_poll_that_fails_is_tried_again_and_the_node_still_releases_its_block(
    proxy, chain, client, monkeypatch
) -> None:
    """The first polls of the journals fail (a WireMock slow to answer on a loaded machine): the watcher says so once,
    polls again, and releases NewBlock(B+1) as soon as the node has shown its switch, instead of leaving it held to
    its bound (a watcher that died on the first failure made every later hop wait the whole hold)."""
    from types import SimpleNamespace

    from harness.audit.contracts import contract_for
    from harness.drive import switch_holds
    from harness.drive.switch_holds import HoldSettings, SwitchHolds

    failures = iter([True, True, True])

    def flaky_journals(mlnodes, since_ms=0):
        if next(failures, False):
            raise requests.ConnectionError("journal: read timed out")
        return []  # no MLNode to hear from: every one of none has shown its switch once B is delivered

    monkeypatch.setattr(switch_holds, "collect_records", flaky_journals)
    said: list[str] = []
    part = SimpleNamespace(id="p1", chain_proxy=proxy, mlnodes=[])
    settings = HoldSettings(pre_hold_ms=200, hold_ms=20_000, poll_s=0.02)
    holds = SwitchHolds([part], contract_for("reference"), settings, old="v0.3.8", new="v0.3.9", upgrade_height=12,
                        progress=said.append)  # fmt: skip
    holds.start()
    try:
        wait_until(lambda: holds.failed_polls == 3, timeout_s=5, what="three failed polls")
        chain.produce(3)
        holds.wait(height=lambda: 13, timeout_s=10)  # well inside B+1's 20 s bound
        outcomes = {o.height: o.outcome for o in holds.outcomes()["p1"]}
    finally:
        holds.stop()
    assert outcomes[13] == "released", outcomes
    assert [m for m in said if "watching the holds" in m] == [
        "watching the holds: ConnectionError: journal: read timed out; trying again at every poll"
    ]
    assert [next_height(client) for _ in range(3)] == [11, 12, 13]


def test_no_hold_without_the_block_before(proxy, chain, client) -> None:
    """A node that never got h-1 (down, reconnecting) gets h at once: there is nothing to time the hold from."""
    chain.produce(1, announce=False)  # 11 made while nobody listens
    proxy.arm_hold(12, 60_000)
    chain.produce(1)
    assert next_height(client) == 12
    assert hold_of(proxy, 12).outcome == "not_held"


def test_holds_through_the_control_api_and_its_refusals(proxy, chain, client) -> None:
    control = ChaosControl(proxy.control_url)
    control.arm_hold(12, 60_000)
    chain.produce(2)
    assert next_height(client) == 11
    wait_until(lambda: control.holds()[0].outcome == "holding", timeout_s=5, what="block 12 held")
    assert control.status()["holds"] == 1
    control.release_hold(12, "by hand")
    assert next_height(client) == 12
    assert [d.height for d in control.deliveries(11, 12)] == [11, 12]
    with pytest.raises(ConfigError, match="already delivered"):
        control.arm_hold(11, 100)
    with pytest.raises(ConfigError, match="max_ms"):
        control.arm_hold(99, -1)
    with pytest.raises(ConfigError, match="no hold is armed at 77"):
        control.release_hold(77)
    r = requests.get(proxy.control_url + "/deliveries?from=1_0", timeout=5)
    assert r.status_code == 400
    assert "from" in r.json()["error"]
    control.drop_holds()
    assert control.holds() == []


def test_reset_releases_what_is_held(proxy, chain, client) -> None:
    proxy.arm_hold(12, 60_000)
    chain.produce(2)
    assert next_height(client) == 11
    wait_until(lambda: hold_of(proxy, 12).outcome == "holding", timeout_s=5, what="block 12 held")
    proxy.reset()
    assert next_height(client) == 12
    assert proxy.holds() == []
    assert [d.height for d in proxy.deliveries()] == [12]


def test_arming_a_delivered_height_is_refused_and_a_hop_takes_that_as_nothing_to_hold(proxy, chain, client) -> None:
    """The race a stalled machine meets: block B reached the node between the height's choice and the arming."""
    from types import SimpleNamespace

    from harness.audit.contracts import contract_for
    from harness.drive.switch_holds import HoldSettings, SwitchHolds

    chain.produce(2)
    assert [next_height(client), next_height(client)] == [11, 12]
    said: list[str] = []
    part = SimpleNamespace(id="p1", chain_proxy=proxy, mlnodes=[])
    holds = SwitchHolds([part], contract_for("reference"), HoldSettings(1000, 4000), old="v0.3.8", new="v0.3.9",
                        upgrade_height=12, progress=said.append)  # fmt: skip
    holds.start()
    holds.stop()
    assert [h.height for h in proxy.holds()] == [13], "block 12 was delivered: only 13 is held"
    assert any("block(s) [12] already reached its API node" in m for m in said), said


def test_a_hold_that_began_late_is_waited_for_to_its_own_bound() -> None:
    """An API node restarted after block B (a real node's start takes half a minute) meets the hold of B+1 late: the
    wait runs to that hold's own bound, not to the bound counted from when the wait began; a hold past its own bound
    still ends the wait with the holds as evidence."""
    import threading
    import time
    from types import SimpleNamespace

    from harness.audit.contracts import contract_for
    from harness.chaos.holds import Hold
    from harness.drive.switch_holds import HOLD_SLACK_S, HoldSettings, SwitchHolds
    from harness.errors import WaitTimeout

    part = SimpleNamespace(id="p1", chain_proxy=object(), mlnodes=[])
    holds = SwitchHolds([part], contract_for("reference"), HoldSettings(0, 0), old="v0.3.8", new="v0.3.9", upgrade_height=12)
    (watch,) = holds.watches
    now = time.time() * 1000
    watch.holds = {13: Hold(height=13, max_ms=1500, armed_ms=now, held_from_ms=now, outcome="holding")}
    ended = threading.Timer(1.0, lambda: setattr(watch, "done", True))  # the hold's delivery, inside its bound
    ended.start()
    try:
        holds.wait(height=lambda: 12, timeout_s=0.2)  # returns once done; the 0.2 s bound alone would have failed
    finally:
        ended.cancel()
    watch.done = False
    watch.holds[13].held_from_ms = time.time() * 1000 - 1500 - HOLD_SLACK_S * 1000  # past its own bound
    with pytest.raises(WaitTimeout, match="the holds of blocks 12 and 13 to end"):
        holds.wait(height=lambda: 12, timeout_s=0.2)


class SnapshotProxy:
    """A chaos proxy frozen in one state, as the control API reports it."""

    def __init__(self, holds, delivered, websockets: int) -> None:
        self._holds, self._delivered, self.websockets = holds, delivered, websockets

    def holds(self):
        return list(self._holds)

    def deliveries(self, lo: int = 0, hi: int | None = None):
        from harness.chaos.holds import Delivery

        return [Delivery(h, 1000.0 * h, 1) for h in self._delivered if h >= lo and (hi is None or h <= hi)]

    def status(self) -> dict:
        return {"websockets": self.websockets}

    def arm_hold(self, height, max_ms) -> None:
        raise AssertionError("armed by the test itself")

    def release_hold(self, height, reason="") -> None:
        pass


def test_the_wait_does_not_end_when_block_b_just_ran_out_and_b_plus_1_has_not_begun() -> None:
    """The proxy's view a moment after block B's bound ran out: B shows expired but has not gone out yet, B+1 is
    armed, the chain is past B+2. B+1 will be held as soon as B goes out, so the hop's holds are not over while the
    API node is connected; they are once it has no websocket through the proxy."""
    import time
    from types import SimpleNamespace

    from harness.audit.contracts import contract_for
    from harness.chaos.holds import Hold
    from harness.drive.switch_holds import HoldSettings, SwitchHolds
    from harness.errors import WaitTimeout

    now = time.time() * 1000
    snapshot = [Hold(16, 1000, now, held_from_ms=now - 800, outcome="expired"), Hold(17, 4000, now)]
    proxy = SnapshotProxy(snapshot, delivered=[15], websockets=1)
    part = SimpleNamespace(id="p1", chain_proxy=proxy, mlnodes=[])
    holds = SwitchHolds([part], contract_for("reference"), HoldSettings(1000, 4000, poll_s=60), old="v0.3.8",
                        new="v0.3.9", upgrade_height=16)  # fmt: skip
    holds.watches[0].holds = {h.height: h for h in snapshot}
    with pytest.raises(WaitTimeout, match="the holds of blocks 16 and 17 to end"):
        holds.wait(height=lambda: 20, timeout_s=0.3)
    proxy.websockets = 0  # the API node went away: nothing held can reach it
    holds.wait(height=lambda: 20, timeout_s=0.3)
