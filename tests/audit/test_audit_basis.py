"""The delivery clock (harness/audit/basis.py and the verdict rules it feeds, harness/audit/verdict.py): each
participant judged by when its own API node received blocks B and B+1, whatever the chain's header times say."""

from __future__ import annotations

import pytest

from harness.audit import Switch, SwitchContract, SwitchTimeline, audit, contract_for
from harness.audit.basis import CHAIN, DELIVERY, Delivered, HoldOutcome, participant_clock
from harness.audit.records import record_from_url

H = 42
HEADER_MS = 10_000  # header time of block H on the chain
CHAIN_TL = SwitchTimeline([Switch("v0.3.8", 0), Switch("v0.3.9", HEADER_MS, height=H)])
REF = contract_for("reference")


def rec(path: str, t: int, node: str = "n1", method: str = "GET"):
    return record_from_url(path, logged_ms=t, mock_id=f"{node}/*", method=method, node_id=node, request_id=f"{node}-{t}")


def delivered(*pairs: tuple[int, float], conn: int = 1, session_ms: float = 0.0) -> list[Delivered]:
    return [Delivered(h, ms, conn, session_ms) for h, ms in pairs]


# A slow node: H reached it 1.2 s after the header (held, and its proxy far away), H+1 3 s later (held until it switched)
SLOW = delivered((H - 1, 9_500.0), (H, 11_200.7), (H + 1, 14_200.2))


def test_the_delivery_clock_times_each_hop_from_the_nodes_own_blocks():
    clock = participant_clock("p1", ["n1"], CHAIN_TL, REF, SLOW, [HoldOutcome(H + 1, 2_990, "released", "switch seen")])
    (t,) = clock.timing
    assert (t.basis, t.switch_height, t.from_ms, t.due_ms, t.until_ms) == (DELIVERY, H, 11_200, 14_200, 14_700)
    assert clock.timeline.switches[1] == Switch("v0.3.9", 11_200, H, 14_200, 14_700)
    assert "block 43 held 2990 ms (released: switch seen)" in t.describe()
    assert dict(clock.delivered)[H] == 11_200


@pytest.mark.parametrize(
    ("deliveries", "note"),
    [
        (None, "no proxy fronts its API node"),
        (delivered((H - 1, 9_500.0)), f"NewBlock({H}) never reached its API node"),
        (delivered((H, 11_000.0), (H + 1, 12_000.0), session_ms=HEADER_MS + 1), f"(re)subscribed after block {H}"),
    ],
)
def test_without_the_nodes_own_deliveries_the_chain_clock_judges_and_says_why(deliveries, note):
    (t,) = participant_clock("p1", ["n1"], CHAIN_TL, REF, deliveries).timing
    assert (t.basis, t.from_ms, t.due_ms, t.until_ms) == (CHAIN, HEADER_MS, HEADER_MS + 750, HEADER_MS + 750)
    assert note in t.note
    assert note in t.describe()
    assert f"after block {H}'s header time" in t.describe()


def test_a_node_gone_after_block_b_gets_the_chain_clocks_grace_from_when_b_reached_it():
    """B reached it (held 1 s by its proxy), then it was killed: no block after B came. Its requests are judged from
    when B reached it, never from B's header time, which lies before it could know of B."""
    gone = delivered((H - 1, 9_500.0), (H, 11_000.4))
    clock = participant_clock("p1", ["n1"], CHAIN_TL, REF, gone, [HoldOutcome(H, 1_000, "expired")])
    (t,) = clock.timing
    assert (t.basis, t.from_ms, t.due_ms, t.until_ms) == (CHAIN, 11_000, 11_750, 11_750)
    assert f"no block after {H} reached its API node" in t.note
    assert f"switch due 750 ms after block {H} reached its API node" in t.describe()
    assert t.delivered(H) == 11_000
    # an old-prefix status poll 600 ms after B reached it (and 1.6 s after B's header time) is in time
    report = audit([rec("/v0.3.8/api/v1/state", 11_600)], CHAIN_TL, REF, clocks=[clock], end_ms=11_700)
    assert report.verdicts == ["ok"], report.to_text()


def test_a_refresh_tick_contract_is_never_due_before_its_tick():
    pr228 = contract_for("pr228", refresh_tick_s=2.0, block_time_s=0.2)
    deliveries = delivered((H - 2, 9_000.0), (H - 1, 9_600.0), (H, 10_100.0))
    (t,) = participant_clock("p1", ["n1"], CHAIN_TL, pr228, deliveries).timing
    assert t.switch_height == H - 1
    assert (t.from_ms, t.due_ms) == (9_600, 9_600 + pr228.refresh_grace_ms)


def test_a_slow_on_time_node_passes_on_its_own_clock_and_fails_on_the_chains():
    records = [
        rec("/v0.3.8/v1/chat/completions", 11_900, method="POST"),  # still processing block H
        rec("/v0.3.8/api/v1/stop", 12_500, method="POST"),  # switched 1.3 s after H reached it
        rec("/v0.3.8/v1/chat/completions", 12_650, method="POST"),  # in flight when it switched
        rec("/v0.3.9/v1/chat/completions", 12_700, method="POST"),
        rec("/v0.3.9/api/v1/state", 14_900),
    ]
    clock = participant_clock("p1", ["n1"], CHAIN_TL, REF, SLOW)
    mine = audit(records, CHAIN_TL, REF, nodes=["n1"], clocks=[clock])
    assert mine.verdict == "pass", mine.to_text()
    assert [(s.delay_ms, s.stop_delay_ms) for s in mine.switches_seen] == [(1_500, 1_300)]
    chains = audit(records, CHAIN_TL, REF, nodes=["n1"])
    assert [o.reason for o in chains.offenders] == ["not_switched", "late_stop", "not_switched"], chains.to_text()


def test_a_fast_node_one_block_late_fails_on_its_own_clock():
    records = [
        rec("/v0.3.8/v1/chat/completions", 13_000, method="POST"),  # H held... nothing happens: it waits for H+1
        rec("/v0.3.8/v1/chat/completions", 14_250, method="POST"),  # after H+1 reached it: not switched
        rec("/v0.3.8/api/v1/stop", 14_300, method="POST"),
        rec("/v0.3.9/v1/chat/completions", 14_320, method="POST"),
    ]
    report = audit(records, CHAIN_TL, REF, nodes=["n1"], clocks=[participant_clock("p1", ["n1"], CHAIN_TL, REF, SLOW)])
    assert [(o.verdict, o.reason, o.logged_ms) for o in report.offenders] == [
        ("late", "not_switched", 14_250),
        ("late", "late_stop", 14_300),
    ], report.to_text()
    assert report.first_offender.logged_ms == 14_250
    assert report.switches_seen[0].blocks_after == 1  # among the blocks its API node had received


def test_early_and_stale_on_the_delivery_clock():
    records = [
        rec("/v0.3.9/v1/chat/completions", 11_100, method="POST"),  # before H reached it: early
        rec("/v0.3.8/api/v1/stop", 11_300, method="POST"),
        rec("/v0.3.8/api/v1/state", 14_699),  # switched, in flight: ok until U
        rec("/v0.3.8/api/v1/state", 14_700),  # at U: a client that kept the old prefix
    ]
    report = audit(records, CHAIN_TL, REF, nodes=["n1"], clocks=[participant_clock("p1", ["n1"], CHAIN_TL, REF, SLOW)])
    assert [(o.verdict, o.logged_ms) for o in report.offenders] == [("early", 11_100), ("stale", 14_700)], report.to_text()


def test_an_in_flight_request_after_a_timely_stop_is_not_late():
    """The stop shows the switch: an old-prefix chat already on its way, logged after the switch was due but before
    any new-version request, is in flight, not late."""
    records = [
        rec("/v0.3.8/api/v1/stop", 14_100, method="POST"),
        rec("/v0.3.8/v1/chat/completions", 14_300, method="POST"),
        rec("/v0.3.9/v1/chat/completions", 14_400, method="POST"),
    ]
    report = audit(records, CHAIN_TL, REF, nodes=["n1"], clocks=[participant_clock("p1", ["n1"], CHAIN_TL, REF, SLOW)])
    assert report.verdict == "pass", report.to_text()


def test_each_participant_by_its_own_clock_in_one_audit():
    fast = delivered((H - 1, 9_200.0), (H, 10_050.0), (H + 1, 10_400.0))
    records = [
        rec("/v0.3.8/api/v1/stop", 10_300, "a", "POST"),
        rec("/v0.3.9/v1/chat/completions", 10_310, "a", "POST"),
        rec("/v0.3.8/v1/chat/completions", 12_000, "b", "POST"),  # b's H came at 11.2 s: still processing it
        rec("/v0.3.8/api/v1/stop", 12_500, "b", "POST"),
        rec("/v0.3.9/v1/chat/completions", 12_700, "b", "POST"),
        rec("/v0.3.8/v1/chat/completions", 12_000, "a", "POST"),  # a switched at 10.3 s: stale
    ]
    clocks = [participant_clock("pa", ["a"], CHAIN_TL, REF, fast), participant_clock("pb", ["b"], CHAIN_TL, REF, SLOW)]
    report = audit(records, CHAIN_TL, REF, nodes=["a", "b"], clocks=clocks, participants={"pa": ["a"], "pb": ["b"]})
    assert [(o.verdict, o.node) for o in report.offenders] == [("stale", "a")], report.to_text()
    assert [r.verdict for r in report.network.rows] == ["fail", "pass"]
    assert [t.participant for t in report.timing] == ["pa", "pb"]
    assert "pb v0.3.9 (block 42): delivery clock" in report.to_text()
    assert report.to_dict()["clock"][1]["from_ms"] == 11_200


def test_without_clocks_the_report_names_the_chain_clock():
    report = audit([rec("/v0.3.9/api/v1/state", 10_500)], CHAIN_TL, SwitchContract(grace_ms=1000))
    assert "clock: chain (block header times + grace 1000 ms" in report.to_text()
    assert report.to_dict()["clock"] == "chain"
