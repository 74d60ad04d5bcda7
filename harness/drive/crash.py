"""Crash points of an upgrade: where a scenario SIGKILLs an API node around the upgrade height, and what it reads off
the journals afterwards (the first MLNode call after the restart, the old version's stops across the crash).

    wait_for_crash_point(testnet, "H", height=H, old="v0.3.8")   # block H reached the API node
    testnet.kill_api(); restarted_ms = testnet.now_ms(); testnet.start_api()
    first = calls_since(testnet, restarted_ms)[0]
    assert first.version_seen in expected_versions(first.logged_ms, runner.timing(), old, new)

A point at a height is the moment NewBlock(height) reached the participant's API node (its chaos proxy saw the
delivery), or, where no proxy fronts it, the moment the chain made that block. `after-stop` is the moment the
participant's first MLNode had received the stop of the version it leaves (since block H-1 reached its API node).
"""

from __future__ import annotations

from harness.audit.basis import HopTiming
from harness.audit.contracts import PR228_REFRESH_TICK_S
from harness.audit.results import STOP_ENDPOINT
from harness.errors import ConfigError
from harness.mlnode.collect import collect_records
from harness.util.wait import wait_until

# name -> blocks from H (None: right after the old version's stop)
CRASH_POINTS: dict[str, int | None] = {"H-2": -2, "H-1": -1, "H": 0, "H+1": 1, "after-stop": None}


def wait_for_crash_point(testnet, point: str, *, height: int, old: str, participant: str | None = None) -> None:
    """Until the crash point `point` (a key of CRASH_POINTS) of the upgrade at `height` is reached at one participant
    (default the first). after-stop: the first `POST /<old>/api/v1/stop` on its first MLNode since block H-1 reached
    its API node (a stop of the version in use before then, such as a real chain's PoC phase makes, is no switch's)."""
    if point not in CRASH_POINTS:
        raise ConfigError(f"crash point {point!r} is not one of {', '.join(CRASH_POINTS)}")
    part = testnet.participant(participant)
    offset = CRASH_POINTS[point]
    if offset is not None:
        _reached(testnet, part, height + offset, point)
        return
    since_ms = _reached(testnet, part, height - 1, point)
    node = part.mlnodes[0]

    def stopped() -> bool:
        records = collect_records([node], since_ms=since_ms)
        return any(r.method == "POST" and r.endpoint == STOP_ENDPOINT and r.version_seen == old for r in records)

    bt, tick_s = testnet.info.block_time_s, testnet.info.api_refresh_tick_s or PR228_REFRESH_TICK_S
    blocks = max(height + 2 - testnet.rpc.height(), 0)  # the stop may wait for a client refresh tick (PR #228)
    wait_until(stopped, timeout_s=30 + 10 * bt * blocks + tick_s, interval_s=0.01,
               what=f"POST /{old}/api/v1/stop on {node.id} (crash point {point})")  # fmt: skip


def _reached(testnet, part, height: int, point: str) -> int:
    """Until NewBlock(height) reached the participant's API node (its proxy's delivery), or, where no proxy fronts it,
    until the chain made that block; returns that moment (ms)."""
    timeout = 30 + 10 * testnet.info.block_time_s * max(height - testnet.rpc.height(), 0)
    proxy = part.chain_proxy
    if proxy is None:
        testnet.rpc.wait_for_height(height)
        block = wait_until(lambda: testnet.timeline.time_of(height), timeout_s=10,
                           what=f"block {height} in the harness's block timeline")  # fmt: skip
        return block.block_time_ms
    (seen,) = wait_until(lambda: proxy.deliveries(height, height), timeout_s=timeout, interval_s=0.01,
                         what=f"NewBlock({height}) delivered to {part.id}'s API node (crash point {point})")  # fmt: skip
    return int(seen.ms)


def calls_since(testnet, since_ms: int, participant: str | None = None) -> list:
    """Every request the participant's MLNodes received from `since_ms` on, in time order."""
    nodes = testnet.participant(participant).mlnodes
    return sorted((r for r in collect_records(nodes) if r.logged_ms >= since_ms), key=lambda r: r.sort_key())


def old_stops(records, old: str) -> dict[str, list]:
    """{MLNode: its `POST /<old>/api/v1/stop` requests} among `records`."""
    out: dict[str, list] = {}
    for r in records:
        if r.method == "POST" and r.endpoint == STOP_ENDPOINT and r.version_seen == old:
            out.setdefault(r.node_key, []).append(r)
    return out


def expected_versions(t_ms: int, timing: HopTiming, old: str, new: str) -> set[str]:
    """The prefixes a call at `t_ms` may carry on the participant's clock for the hop: the old one before S, the new one
    from D on, either while the node processes block B (S <= t < D)."""
    if t_ms < timing.from_ms:
        return {old}
    if t_ms >= timing.due_ms:
        return {new}
    return {old, new}
