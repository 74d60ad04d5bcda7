"""Crash points of an upgrade: where a scenario SIGKILLs an API node around the upgrade height, and what it reads off
the journals afterwards (the first MLNode call after the restart, the old version's stops across the crash).

    wait_for_crash_point(testnet, "H", height=H, old="v0.3.8", since_ms=t0)   # block H reached the API node
    testnet.kill_api(); testnet.start_api()
    first = calls_since(testnet, killed_ms)[0]
    assert first.version_seen in expected_versions(first.logged_ms, runner.timing(), old, new)

A point at a height is the moment NewBlock(height) reached the participant's API node (its chaos proxy saw the
delivery), or, where no proxy fronts it, the moment the chain made that block. `after-stop` is the moment the
participant's first MLNode had received the stop of the version it leaves.
"""

from __future__ import annotations

from harness.audit.basis import HopTiming
from harness.audit.results import STOP_ENDPOINT
from harness.drive.collect import collect_records
from harness.errors import ConfigError
from harness.util.wait import wait_until

# name -> blocks from H (None: right after the old version's stop)
CRASH_POINTS: dict[str, int | None] = {"H-2": -2, "H-1": -1, "H": 0, "H+1": 1, "after-stop": None}


def wait_for_crash_point(testnet, point: str, *, height: int, old: str, since_ms: int, participant: str | None = None) -> None:
    """Until the crash point `point` (a key of CRASH_POINTS) of the upgrade at `height` is reached at one participant
    (default the first); `since_ms`: a stop of `old` counts from then on (after-stop)."""
    if point not in CRASH_POINTS:
        raise ConfigError(f"crash point {point!r} is not one of {', '.join(CRASH_POINTS)}")
    part = testnet.participant(participant)
    bt = testnet.info.block_time_s
    offset = CRASH_POINTS[point]
    if offset is None:
        node = part.mlnodes[0]

        def stopped() -> bool:
            return any(
                r.method == "POST" and r.endpoint == STOP_ENDPOINT and r.version_seen == old
                for r in collect_records([node], since_ms=since_ms)
            )

        blocks = height + 2 - testnet.rpc.height()
        wait_until(stopped, timeout_s=30 + 10 * bt * max(blocks, 0), interval_s=0.01,
                   what=f"POST /{old}/api/v1/stop on {node.id} (crash point {point})")  # fmt: skip
        return
    target = height + offset
    proxy = part.chain_proxy
    timeout = 30 + 10 * bt * max(target - testnet.rpc.height(), 0)
    if proxy is None:  # no proxy sees the deliveries: when the chain made the block
        testnet.rpc.wait_for_height(target, timeout_s=timeout)
        return
    wait_until(lambda: proxy.deliveries(target, target), timeout_s=timeout, interval_s=0.01,
               what=f"NewBlock({target}) delivered to {part.id}'s API node (crash point {point})")  # fmt: skip


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
