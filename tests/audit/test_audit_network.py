"""The audit's network view: several participants' journals against one chain timeline; each participant's switch,
the spread first-to-last, and the participant and request that broke atomicity. Hand-built records."""

from __future__ import annotations

import json

import pytest

from harness.audit import Switch, SwitchContract, SwitchTimeline, audit, record_from_url, render_png
from harness.errors import ConfigError

S = 10_000  # the switch block's time (ms)
TIMELINE = SwitchTimeline([Switch("v0.3.8", 0), Switch("v0.3.9", S, height=42)])
HEIGHTS = [(40, S - 400), (41, S - 200), (42, S), (43, S + 1_200), (44, S + 1_400)]
CONTRACT = SwitchContract(grace_ms=500, stop_old=True, name="test", stop_once=True)
PARTS = {"p1": ["p1-mlnode-1"], "p2": ["p2-mlnode-1"], "p3": ["p3-mlnode-1", "p3-mlnode-2"]}


def rec(node: str, url: str, t: int, method: str = "GET", *, matched: bool = True):
    return record_from_url(url, logged_ms=t, mock_id=f"{node}/*", node_id=node, method=method, matched=matched)


def switching(node: str, at: int) -> list:
    """A node that polls its state on v0.3.8 before the switch, stops v0.3.8 at `at` and is first seen on v0.3.9 at
    `at` + 1."""
    return [
        rec(node, "/v0.3.8/api/v1/state", S - 300),
        rec(node, "/v0.3.8/api/v1/state", at - 5),
        rec(node, "/v0.3.8/api/v1/stop", at, "POST"),
        rec(node, "/v0.3.9/api/v1/state", at + 1),
        rec(node, "/v0.3.9/v1/chat/completions", at + 50, "POST"),
    ]


def run(records, parts=PARTS):
    nodes = [n for ns in parts.values() for n in ns]
    return audit(records, TIMELINE, CONTRACT, nodes=nodes, heights=HEIGHTS, end_ms=S + 3_000, participants=parts)


def test_an_atomic_switch_reports_each_participant_and_the_spread():
    records = [*switching("p1-mlnode-1", S + 20), *switching("p2-mlnode-1", S + 90), *switching("p3-mlnode-1", S + 40),
               *switching("p3-mlnode-2", S + 60)]  # fmt: skip
    report = run(records)
    net = report.network
    assert report.verdict == "pass", report.to_text()
    assert net.verdict == "atomic"
    assert net.broken_by is None
    assert net.breaking is None
    (hop,) = net.hops
    assert [(s.participant, s.delay_ms, s.node) for s in hop.switches] == [
        ("p1", 21, "p1-mlnode-1"),
        ("p2", 91, "p2-mlnode-1"),
        ("p3", 41, "p3-mlnode-1"),  # a participant's switch: its first new-version request over its MLNodes
    ]
    assert hop.spread_ms == 70
    assert (hop.seen[0].participant, hop.seen[-1].participant) == ("p1", "p2")
    assert [r.requests for r in net.rows] == [5, 5, 10]
    assert [r.verdict for r in net.rows] == ["pass", "pass", "pass"]


def test_a_late_participant_is_named_with_the_request_that_broke_atomicity():
    late_at = S + 1_250  # switched while processing block 43 (one block late)
    records = [*switching("p1-mlnode-1", S + 20), *switching("p3-mlnode-1", S + 30), *switching("p3-mlnode-2", S + 30)]
    records += [
        rec("p2-mlnode-1", "/v0.3.8/api/v1/state", S - 300),
        rec("p2-mlnode-1", "/v0.3.8/v1/chat/completions", S + 700, "POST"),
        rec("p2-mlnode-1", "/v0.3.8/api/v1/stop", late_at, "POST"),
        rec("p2-mlnode-1", "/v0.3.9/api/v1/state", late_at + 2),
    ]
    report = run(records)
    net = report.network
    assert net.verdict == "broken"
    assert net.broken_by == "p2"
    assert (net.breaking.method, net.breaking.url, net.breaking.logged_ms) == ("POST", "/v0.3.8/v1/chat/completions", S + 700)
    assert net.breaking.verdict == "late"
    rows = [(r.participant, r.verdict, r.offenders) for r in net.rows]
    assert rows == [("p1", "pass", 0), ("p2", "fail", 2), ("p3", "pass", 0)]
    p2 = net.hops[0].switches[1]
    assert (p2.delay_ms, p2.blocks_after) == (1_252, 1)
    assert net.hops[0].spread_ms == 1_252 - 21
    text = report.to_text()
    assert "network of 3 participants: BROKEN by p2: late (not_switched): POST /v0.3.8/v1/chat/completions" in text
    assert "+1252 ms (+1 block)" in text
    assert "p2: first offender late" in text
    doc = json.loads(report.to_json())["network"]
    assert doc["verdict"] == "broken"
    assert doc["broken_by"] == "p2"
    assert doc["breaking_request"]["url"] == "/v0.3.8/v1/chat/completions"
    assert [p["verdict"] for p in doc["participants"]] == ["pass", "fail", "pass"]
    assert doc["hops"][0]["last"] == "p2"
    assert doc["hops"][0]["spread_ms"] == 1_231


def test_a_participant_that_never_switched_has_no_spread_and_a_missing_stop():
    records = [*switching("p1-mlnode-1", S + 20), rec("p2-mlnode-1", "/v0.3.8/api/v1/state", S - 100)]
    parts = {"p1": ["p1-mlnode-1"], "p2": ["p2-mlnode-1"]}
    report = run(records, parts)
    hop = report.network.hops[0]
    assert hop.never == ["p2"]
    assert hop.spread_ms is None
    assert "never switched: p2" in hop.describe()
    assert report.network.broken_by == "p2"
    assert report.network.breaking.verdict == "missing_stop"


def test_unserved_requests_are_counted_per_participant_without_failing_the_prefix_audit():
    """An MLNode without the new version answers 404 (unmatched): the prefix was right, the version was not there."""
    records = [*switching("p1-mlnode-1", S + 20), *switching("p2-mlnode-1", S + 25)]
    records += [rec("p2-mlnode-1", "/v0.3.9/api/v1/state", S + 400 + i * 100, matched=False) for i in range(3)]
    report = run(records, {"p1": ["p1-mlnode-1"], "p2": ["p2-mlnode-1"]})
    assert report.verdict == "pass", report.to_text()
    assert report.network.verdict == "atomic"
    p1, p2 = report.network.rows
    assert (p1.unserved, p2.unserved) == (0, 3)
    assert (p2.first_unserved.url, p2.first_unserved.logged_ms) == ("/v0.3.9/api/v1/state", S + 400)
    text = report.to_text()
    assert "p2: 3 requests found no answer on its MLNodes (not deployed there?), first GET /v0.3.9/api/v1/state" in text
    assert json.loads(report.to_json())["network"]["participants"][1]["first_unserved"]["logged_ms"] == S + 400


def test_without_participants_there_is_no_network_view():
    report = audit(switching("mlnode-1", S + 20), TIMELINE, CONTRACT)
    assert report.network is None
    assert "network of" not in report.to_text()
    assert json.loads(report.to_json())["network"] is None


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        ({"p1": ["n1"], "p2": ["n1"]}, "MLNode 'n1' is listed under both 'p1' and 'p2'"),
        ({"p1": "n1"}, r"participants\['p1'\]: expected a list of MLNode ids"),
        ({}, "expected a mapping participant id -> MLNode ids"),
        ({"": ["n1"]}, "participant id '' is not a non-empty string"),
    ],
)
def test_bad_participant_maps_are_refused(parts, message):
    with pytest.raises(ConfigError, match=message):
        audit([], TIMELINE, CONTRACT, participants=parts)


def test_the_picture_gets_a_participant_panel(tmp_path):
    records = [*switching("p1-mlnode-1", S + 20), *switching("p2-mlnode-1", S + 1_250), *switching("p3-mlnode-1", S + 30)]
    with_network = render_png(run(records), TIMELINE, tmp_path / "net.png")
    without = render_png(audit(records, TIMELINE, CONTRACT, heights=HEIGHTS), TIMELINE, tmp_path / "plain.png")
    from matplotlib.image import imread

    assert imread(with_network).shape[0] > imread(without).shape[0]  # the participant rows add height
