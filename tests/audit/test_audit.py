"""Prefix audit: records from journals, timeline, verdicts, stop rule, reports. Hand-built WireMock journals."""

from __future__ import annotations

import copy
import itertools
import json
import random
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.audit import (
    Offender,
    RequestRecord,
    Switch,
    SwitchContract,
    SwitchTimeline,
    audit,
    port_class_of,
    record_from_url,
    records_from_journal,
    strip_version,
)
from harness.errors import ConfigError

_ids = itertools.count(1)

S1, S2 = 10_000, 20_000  # switch times (ms) of the default test timeline
TIMELINE = SwitchTimeline([Switch("v0.3.8", 0), Switch("v0.3.9", S1, height=42), Switch("v0.3.10", S2, height=52)])


def entry(url: str, t_ms: int, method: str = "GET", *, shape: str = "2.35", matched: bool = True, headers=None) -> dict:
    """One journal entry. 2.35 and 3.x differ in extra keys only (3.x adds stubMapping/subEvents, timing)."""
    n = next(_ids)
    iso = datetime.fromtimestamp(t_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    request = {
        "url": url,
        "absoluteUrl": f"http://127.0.0.1:8080{url}",
        "method": method,
        "clientIp": "127.0.0.1",
        "headers": headers or {"Host": "127.0.0.1:8080", "User-Agent": "Go-http-client/1.1"},
        "cookies": {},
        "browserProxyRequest": False,
        "loggedDate": t_ms,
        "bodyAsBase64": "",
        "body": "",
        "loggedDateString": iso,
    }
    e = {
        "id": f"00000000-0000-0000-0000-{n:012d}",
        "request": request,
        "responseDefinition": {"status": 200 if matched else 404},
        "response": {"status": 200 if matched else 404, "headers": {}, "bodyAsBase64": "", "body": ""},
        "wasMatched": matched,
        "timing": {"addedDelay": 0, "processTime": 1, "responseSendTime": 0, "serveTime": 1, "totalTime": 1},
    }
    if shape == "3.x":
        request.update(
            {"scheme": "http", "host": "127.0.0.1", "port": 8080, "queryParams": {}, "formParams": {}, "protocol": "HTTP/1.1"}
        )
        e["stubMapping"] = {"id": "5f0c0000-0000-0000-0000-000000000000", "request": {"urlPathPattern": ".*"}}
        e["subEvents"] = []
    return e


def journal(*entries: dict) -> dict:
    return {"requests": list(entries), "meta": {"total": len(entries)}, "requestJournalDisabled": False}


def rec(url: str, t_ms: int, method: str = "GET", mock: str = "m1", node: str | None = None, **kw) -> RequestRecord:
    return record_from_url(url, logged_ms=t_ms, mock_id=mock, method=method, node_id=node, **kw)


NO_STOP = SwitchContract(grace_ms=1000, stop_old=False)

# ---------------------------------------------------------------- verdict table (grace 1000 ms, no stop rule)
# One request at a time: its node never showed a later version, so an old prefix after the grace is `late`.
VERDICT_TABLE = [
    # (url, t_ms, method, verdict, expected_version)
    ("/v0.3.8/api/v1/state", 5_000, "GET", "ok", "v0.3.8"),
    ("/v0.3.8/health", 0, "GET", "ok", "v0.3.8"),
    ("/v0.3.9/api/v1/state", 5_000, "GET", "early", "v0.3.8"),
    ("/v0.3.9/api/v1/state", S1 - 1, "GET", "early", "v0.3.8"),
    ("/v0.3.9/api/v1/state", S1, "GET", "ok", "v0.3.9"),
    ("/v0.3.8/api/v1/inference/up", S1, "POST", "ok", "v0.3.9"),  # inside grace
    ("/v0.3.8/api/v1/state", S1 + 999, "GET", "ok", "v0.3.9"),  # last ms of grace
    ("/v0.3.8/api/v1/state", S1 + 1000, "GET", "late", "v0.3.9"),  # switch + grace exactly: late
    ("/v0.3.8/v1/chat/completions", 15_000, "POST", "late", "v0.3.9"),
    ("/v0.3.8/health", 25_000, "GET", "late", "v0.3.10"),
    ("/v0.3.8/tokenize", S2 + 500, "POST", "late", "v0.3.10"),  # v0.3.8's grace ended at S1 + 1000
    ("/v0.3.9/tokenize", S2 + 500, "POST", "ok", "v0.3.10"),  # inside hop 2's grace
    ("/v0.3.9/tokenize", S2 + 1000, "POST", "late", "v0.3.10"),
    ("/v0.3.10/v1/chat/completions", 15_000, "POST", "early", "v0.3.9"),
    ("/v0.3.10/v1/chat/completions", 5_000, "POST", "early", "v0.3.8"),
    ("/v0.3.10/v1/chat/completions", S2, "POST", "ok", "v0.3.10"),
    ("/api/v1/state", 5_000, "GET", "unversioned", "v0.3.8"),
    ("/api/v1/stop", 15_000, "POST", "unversioned", "v0.3.9"),
    ("/v1/chat/completions", 15_000, "POST", "unversioned", "v0.3.9"),
    ("/health", 25_000, "GET", "unversioned", "v0.3.10"),
    ("/tokenize", 25_000, "POST", "unversioned", "v0.3.10"),
    ("/v0.3.7/api/v1/state", 5_000, "GET", "unknown_version", "v0.3.8"),
    ("/v2/api/v1/state", 15_000, "GET", "unknown_version", "v0.3.9"),
    ("/v0.3.11/v1/chat/completions", 25_000, "POST", "unknown_version", "v0.3.10"),
    ("/v3.0.9/health", 15_000, "GET", "unknown_version", "v0.3.9"),
]


@pytest.mark.parametrize(("url", "t_ms", "method", "verdict", "expected"), VERDICT_TABLE)
def test_verdict_table(url, t_ms, method, verdict, expected):
    report = audit([rec(url, t_ms, method)], TIMELINE, NO_STOP)
    assert report.verdicts == [verdict]
    assert report.counts[verdict] == 1
    assert sum(report.counts.values()) == 1
    if verdict == "ok":
        assert report.verdict == "pass"
        assert report.first_offender is None
    else:
        assert report.verdict == "fail"
        o = report.first_offender
        assert (o.verdict, o.method, o.url, o.logged_ms, o.expected_version) == (verdict, method, url, t_ms, expected)
        assert o.seen_version == strip_version(url)[0]
        assert o.mock_id == "m1"


def test_grace_zero_boundary_is_the_switch_itself():
    c = SwitchContract(grace_ms=0, stop_old=False)
    assert audit([rec("/v0.3.8/api/v1/state", S1)], TIMELINE, c).verdicts == ["late"]
    assert audit([rec("/v0.3.8/api/v1/state", S1 - 1)], TIMELINE, c).verdicts == ["ok"]
    assert audit([rec("/v0.3.9/api/v1/state", S1)], TIMELINE, c).verdicts == ["ok"]


@pytest.mark.parametrize(("t_ms", "verdict"), [(S1 - 501, "early"), (S1 - 500, "ok"), (S1 - 1, "ok"), (S1, "ok")])
def test_early_tolerance_boundary(t_ms, verdict):
    c = SwitchContract(grace_ms=0, stop_old=False, early_tolerance_ms=500)
    assert audit([rec("/v0.3.9/api/v1/state", t_ms)], TIMELINE, c).verdicts == [verdict]


def test_expected_version_boundaries():
    times = (0, S1 - 1, S1, S2 - 1, S2, 10**13)
    report = audit([rec("/v0.3.8/api/v1/state", t) for t in times], TIMELINE, NO_STOP)
    # up to S1 - 1 v0.3.8 is expected; at S1 it is still inside the grace; from S2 - 1 on it is late
    assert report.verdicts == ["ok", "ok", "ok", "late", "late", "late"]
    assert [o.expected_version for o in report.offenders] == ["v0.3.9", "v0.3.10", "v0.3.10"]


@pytest.mark.parametrize(
    ("path", "version", "endpoint", "port_class"),
    [
        ("/v0.3.9/api/v1/state", "v0.3.9", "/api/v1/state", "management"),
        ("/v0.3.9/api/v1/pow/init/generate", "v0.3.9", "/api/v1/pow/init/generate", "management"),
        ("/v0.3.10/v1/chat/completions", "v0.3.10", "/v1/chat/completions", "inference"),
        ("/v0.3.10/health", "v0.3.10", "/health", "inference"),
        ("/v0.3.10/tokenize", "v0.3.10", "/tokenize", "inference"),
        ("/v1/chat/completions", None, "/v1/chat/completions", "inference"),
        ("/api/v1/stop", None, "/api/v1/stop", "management"),
        ("/health", None, "/health", "inference"),
        ("/v2/api/v1/state", "v2", "/api/v1/state", "management"),
        ("/v0.3.9", "v0.3.9", "/", "inference"),
    ],
)
def test_prefix_and_port_class(path, version, endpoint, port_class):
    assert strip_version(path) == (version, endpoint)
    assert port_class_of(endpoint) == port_class
    r = rec(path + "?x=1", 1)
    assert (r.version_seen, r.port_class, r.path, r.url) == (version, port_class, path, path + "?x=1")


def test_counts_per_hop_and_class():
    recs = [
        rec("/v0.3.8/api/v1/state", 1_000),
        rec("/v0.3.8/health", 2_000),
        rec("/v0.3.9/api/v1/state", S1 + 10),
        rec("/v0.3.8/v1/chat/completions", S1 + 5_000, "POST"),  # stale inference (the node was seen on v0.3.9)
        rec("/api/v1/state", S2 + 1, "GET"),  # unversioned management
        rec("/v0.3.10/tokenize", S2 + 2, "POST"),
    ]
    report = audit(recs, TIMELINE, NO_STOP)
    assert report.counts == {"ok": 4, "late": 0, "stale": 1, "early": 0, "unversioned": 1, "unknown_version": 0}
    assert report.per_hop["v0.3.8"]["ok"] == 2
    assert report.per_hop["v0.3.9"] == {"ok": 1, "late": 0, "stale": 1, "early": 0, "unversioned": 0, "unknown_version": 0}
    assert report.per_hop["v0.3.10"]["unversioned"] == 1
    assert report.per_class["management"] == {
        "ok": 2, "late": 0, "stale": 0, "early": 0, "unversioned": 1, "unknown_version": 0
    }  # fmt: skip
    assert report.per_class["inference"] == {"ok": 2, "late": 0, "stale": 1, "early": 0, "unversioned": 0, "unknown_version": 0}


# ---------------------------------------------------------------- journals
@pytest.mark.parametrize("shape", ["2.35", "3.x"])
def test_records_from_journal_shapes(shape):
    body = journal(
        entry("/v0.3.9/api/v1/state", 12_345, shape=shape),
        entry("/v0.3.9/api/v1/stop", 12_400, "POST", shape=shape),
        entry("/nothing/here?q=1", 12_500, "GET", shape=shape, matched=False),
    )
    recs = records_from_journal(body, mock_id="node1-mgmt", node_id="node1")
    assert [(r.logged_ms, r.method, r.url, r.version_seen, r.port_class, r.matched) for r in recs] == [
        (12_345, "GET", "/v0.3.9/api/v1/state", "v0.3.9", "management", True),
        (12_400, "POST", "/v0.3.9/api/v1/stop", "v0.3.9", "management", True),
        (12_500, "GET", "/nothing/here?q=1", None, "inference", False),
    ]
    assert {r.mock_id for r in recs} == {"node1-mgmt"}
    assert {r.node_key for r in recs} == {"node1"}
    assert recs[0].request_id == body["requests"][0]["id"]


def test_journal_unmatched_shape_and_date_string_only():
    e = entry("/v0.3.8/health", 1_795_891_867_794)
    req = e["request"]
    del req["loggedDate"]
    recs = records_from_journal({"requests": [req]}, mock_id="m")  # GET /__admin/requests/unmatched: no wrapper
    assert recs[0].logged_ms == 1_795_891_867_794
    assert recs[0].node_key == "m"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"mappings": []}, "no 'requests' key"),
        ({"requests": {"a": 1}}, "'requests' must be a list"),
        ({"requests": [[1, 2]]}, r"requests\[0\]: expected an object"),
        ({"requests": [{"id": "x"}]}, r"requests\[0\]: missing the 'request' object"),
        ({"requests": [{"request": {"method": "GET", "loggedDate": 1}}]}, r"requests\[0\]: request.url"),
        ({"requests": [{"request": {"url": "http://x/", "method": "GET", "loggedDate": 1}}]}, "starting with '/'"),
        ({"requests": [{"request": {"url": "/health", "loggedDate": 1}}]}, r"request.method"),
        ({"requests": [{"request": {"url": "/health", "method": "GET", "loggedDate": "soon"}}]}, "loggedDate must be epoch"),
        ({"requests": [{"request": {"url": "/health", "method": "GET", "loggedDate": True}}]}, "loggedDate must be epoch"),
        ({"requests": [{"request": {"url": "/health", "method": "GET"}}]}, "neither loggedDate"),
        ({"requests": [{"request": {"url": "/health", "method": "GET", "loggedDateString": "yesterday"}}]}, "ISO-8601"),
    ],
)
def test_malformed_journal_names_entry_and_field(body, message):
    with pytest.raises(ConfigError, match=message) as ei:
        records_from_journal(body, mock_id="node7")
    assert "node7" in str(ei.value)


def test_malformed_second_entry_is_named():
    body = journal(entry("/v0.3.8/health", 1), {"request": {"url": "/health", "method": "GET"}})
    with pytest.raises(ConfigError, match=r"requests\[1\]"):
        records_from_journal(body, mock_id="m")


# ---------------------------------------------------------------- interleaved mocks
def test_interleaved_mocks_offender_names_its_mock():
    a = [entry(f"/v0.3.{8 if t < S1 else 9}/api/v1/state", t) for t in range(0, 30_000, 1_000)]
    b = [entry(f"/v0.3.{8 if t < S1 else 9}/v1/chat/completions", t, "POST") for t in range(500, 30_000, 1_000)]
    b.append(entry("/v0.3.8/v1/chat/completions", 14_250, "POST"))  # the one late request, on mock b
    recs = records_from_journal(journal(*a), mock_id="node-a") + records_from_journal(journal(*b), mock_id="node-b")
    timeline = SwitchTimeline([Switch("v0.3.8", 0), Switch("v0.3.9", S1, height=42)])
    report = audit(recs, timeline, NO_STOP)
    assert report.counts["stale"] == 1
    assert report.counts["ok"] == len(recs) - 1
    first = report.first_offender
    assert (first.mock_id, first.url, first.logged_ms, first.port_class) == (
        "node-b",
        "/v0.3.8/v1/chat/completions",
        14_250,
        "inference",
    )
    assert [r.logged_ms for r in report.records] == sorted(r.logged_ms for r in recs)


# ---------------------------------------------------------------- order independence (property)
URLS = [
    "/v0.3.8/api/v1/state",
    "/v0.3.9/api/v1/state",
    "/v0.3.10/health",
    "/v0.3.8/api/v1/stop",
    "/v0.3.9/api/v1/stop",
    "/api/v1/state",
    "/v0.3.7/tokenize",
    "/v0.3.9/v1/chat/completions",
]
record_st = st.builds(
    lambda url, t, method, mock, node: rec(url, t, method, mock=mock, node=node),
    st.sampled_from(URLS),
    st.integers(min_value=0, max_value=30_000),
    st.sampled_from(["GET", "POST"]),
    st.sampled_from(["m1", "m2", "m3"]),
    st.sampled_from([None, "n1", "n2"]),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(record_st, max_size=40), st.randoms(use_true_random=False), st.sampled_from([0, 1000, 15_000]), st.booleans())
def test_order_of_records_never_changes_the_verdicts(recs, rnd, grace, stop_old):
    contract = SwitchContract(grace_ms=grace, stop_old=stop_old)
    base = audit(recs, TIMELINE, contract)
    shuffled = list(recs)
    rnd.shuffle(shuffled)
    other = audit(shuffled, TIMELINE, contract)
    assert sorted(zip(base.records, base.verdicts, strict=True), key=lambda p: p[0].sort_key()) == sorted(
        zip(other.records, other.verdicts, strict=True), key=lambda p: p[0].sort_key()
    )
    assert other.counts == base.counts
    assert other.offenders == base.offenders
    assert other.to_json() == base.to_json()
    assert sum(base.counts.values()) == len(recs)


# ---------------------------------------------------------------- stop rule
STOP_CONTRACT = SwitchContract(grace_ms=1000, stop_old=True)
TWO = SwitchTimeline([Switch("v0.3.8", 0), Switch("v0.3.9", S1, height=42)])


def _traffic(node: str, until: int = 30_000) -> list[RequestRecord]:
    return [rec(f"/v0.3.{8 if t < S1 else 9}/api/v1/state", t, mock=node) for t in range(0, until, 2_000)]


def test_the_old_version_stop_is_due_inside_the_grace_window():
    grace = STOP_CONTRACT.grace_ms
    recs = [*_traffic("n1"), rec("/v0.3.8/api/v1/stop", S1 + grace - 1, "POST", mock="n1")]
    report = audit(recs, TWO, STOP_CONTRACT)
    assert report.verdict == "pass", report.to_text()
    assert [(s.node, s.status, s.stop_ms, s.repeated) for s in report.stops] == [("n1", "ok", S1 + grace - 1, 0)]


@pytest.mark.parametrize("delay", [STOP_CONTRACT.grace_ms, 5_000, 600_000])
def test_a_stop_after_the_grace_window_is_late(delay):
    recs = [*_traffic("n1"), rec("/v0.3.8/api/v1/stop", S1 + delay, "POST", mock="n1")]
    report = audit(recs, TWO, STOP_CONTRACT)
    assert [(o.verdict, o.reason, o.logged_ms) for o in report.offenders] == [("late", "late_stop", S1 + delay)]
    assert [(s.node, s.status, s.stop_ms) for s in report.stops] == [("n1", "late", S1 + delay)]
    assert "late/late_stop" in report.to_text()


HEIGHTS = [(41, S1 - 1_000), (42, S1), (43, S1 + 1_000), (44, S1 + 2_000), (45, S1 + 3_000)]


MISSING_N3 = f"no POST /v0.3.8/api/v1/stop from node n3 in [{S1}, {S1 + 3_000}] after the switch to v0.3.9"


def test_late_or_stale_depends_on_the_nodes_own_switch():
    recs = [
        # n1 switches one block late: it stays on v0.3.8 until block 43, then stops v0.3.8 and comes up on v0.3.9
        rec("/v0.3.8/v1/chat/completions", S1 + 900, "POST", mock="n1"),  # inside the grace window
        rec("/v0.3.8/v1/chat/completions", S1 + 1_050, "POST", mock="n1"),  # late: n1 not yet on v0.3.9
        rec("/v0.3.8/api/v1/stop", S1 + 1_020, "POST", mock="n1"),  # the stop after the grace window: late
        rec("/v0.3.9/api/v1/inference/up", S1 + 1_100, "POST", mock="n1"),
        # n2 switches in time, but a cached worker client keeps the old prefix: stale
        rec("/v0.3.8/api/v1/stop", S1 + 20, "POST", mock="n2"),
        rec("/v0.3.9/api/v1/inference/up", S1 + 30, "POST", mock="n2"),
        rec("/v0.3.8/api/v1/state", S1 + 3_000, mock="n2"),
        # n3 never switches
        rec("/v0.3.8/api/v1/state", S1 + 2_500, mock="n3"),
    ]
    report = audit(recs, TWO, STOP_CONTRACT, heights=HEIGHTS, nodes=["n1", "n2", "n3"])
    assert [(o.verdict, o.reason, o.node, o.logged_ms) for o in report.offenders] == [
        ("late", "late_stop", "n1", S1 + 1_020),
        ("late", "not_switched", "n1", S1 + 1_050),
        ("late", "not_switched", "n3", S1 + 2_500),
        ("stale", "", "n2", S1 + 3_000),
        ("missing_stop", MISSING_N3, "n3", None),
    ]
    assert [(s.node, s.status) for s in report.stops] == [("n1", "late"), ("n2", "ok"), ("n3", "missing")]
    seen = {s.node: s for s in report.switches_seen}
    n1 = seen["n1"]
    assert (n1.delay_ms, n1.latest_height, n1.switch_height, n1.blocks_after) == (1_100, 43, 42, 1)
    assert (seen["n2"].delay_ms, seen["n2"].blocks_after) == (30, 0)
    assert seen["n3"].first_ms is None
    text = report.to_text()
    assert "n1: first v0.3.9 request +1100 ms from S, latest block 43 (1 block after), old-version stop +1020 ms" in text
    assert "n3: never used v0.3.9" in text


def test_an_early_switch_shows_as_blocks_before():
    recs = [rec("/v0.3.9/v1/chat/completions", S1 - 900, "POST", mock="n1"), rec("/v0.3.8/api/v1/state", S1 - 950, mock="n1")]
    report = audit(recs, TWO, NO_STOP, heights=HEIGHTS)
    assert [o.verdict for o in report.offenders] == ["early"]
    assert (report.switches_seen[0].delay_ms, report.switches_seen[0].blocks_after) == (-900, -1)


def test_a_skipped_version_is_late_until_the_node_moves_on():
    """Two hops: the node never uses v0.3.9 and jumps to v0.3.10 at S2 (PR #228's last plan wins)."""
    recs = [
        rec("/v0.3.8/v1/chat/completions", S1 + 5_000, "POST", mock="n1"),
        rec("/v0.3.10/v1/chat/completions", S2 + 10, "POST", mock="n1"),
        rec("/v0.3.8/v1/chat/completions", S2 + 20, "POST", mock="n1"),  # in flight at the jump: v0.3.8 after v0.3.10
    ]
    report = audit(recs, TIMELINE, NO_STOP)
    assert [(o.verdict, o.logged_ms) for o in report.offenders] == [("late", S1 + 5_000), ("stale", S2 + 20)]
    assert [(s.new_version, s.first_ms) for s in report.switches_seen] == [("v0.3.9", S2 + 10), ("v0.3.10", S2 + 10)]


def test_missing_stop_is_an_offender():
    recs = _traffic("n1") + _traffic("n2") + [rec("/v0.3.8/api/v1/stop", S1 + 100, "POST", mock="n1")]
    report = audit(recs, TWO, STOP_CONTRACT)
    assert report.verdict == "fail"
    assert report.counts["stale"] == 0
    assert [(o.verdict, o.node, o.method, o.url, o.logged_ms, o.expected_version) for o in report.offenders] == [
        ("missing_stop", "n2", "POST", "/v0.3.8/api/v1/stop", None, "v0.3.8")
    ]
    assert report.offenders[0].height_bracket == (42, None)
    assert {s.node: s.status for s in report.stops} == {"n1": "ok", "n2": "missing"}


def test_repeated_stop_inside_grace_is_tolerated_after_grace_is_stale():
    grace = STOP_CONTRACT.grace_ms
    recs = [
        *_traffic("n1"),
        rec("/v0.3.8/api/v1/stop", S1 + 100, "POST", mock="n1"),
        rec("/v0.3.8/api/v1/stop", S1 + 200, "POST", mock="n1"),  # a reconcile through a cached old client
        rec("/v0.3.8/api/v1/stop", S1 + grace, "POST", mock="n1"),  # first ms after grace: repeated
        rec("/v0.3.8/api/v1/stop", S1 + 9_000, "POST", mock="n1"),
    ]
    report = audit(recs, TWO, STOP_CONTRACT)
    assert [(o.verdict, o.reason, o.logged_ms) for o in report.offenders] == [
        ("stale", "repeated_stop", S1 + grace),
        ("stale", "repeated_stop", S1 + 9_000),
    ]
    assert report.stops[0].repeated == 3
    assert report.stops[0].stop_ms == S1 + 100


def test_stop_on_the_current_version_is_an_ordinary_request():
    recs = [
        *_traffic("n1"),
        rec("/v0.3.8/api/v1/stop", 1_000, "POST", mock="n1"),  # reconcile before the switch: current version
        rec("/v0.3.9/api/v1/stop", S1 + 50, "POST", mock="n1"),  # reconcile after: current version
        rec("/v0.3.9/api/v1/stop", S1 + 60, "POST", mock="n1"),
    ]
    report = audit(recs, TWO, STOP_CONTRACT)
    assert report.counts["stale"] == 0
    assert [(o.verdict, o.node) for o in report.offenders] == [("missing_stop", "n1")]  # no OLD stop after the switch


def test_stop_not_due_before_the_range_reaches_switch_plus_grace():
    recs = _traffic("n1", until=S1 + 500)
    report = audit(recs, TWO, SwitchContract(grace_ms=1000))
    assert report.verdict == "pass"
    assert report.stops[0].status == "not_due"
    assert audit(recs, TWO, SwitchContract(grace_ms=1000), end_ms=S1 + 1000).first_offender.verdict == "missing_stop"


def test_stop_rule_off_makes_a_late_old_stop_stale():
    recs = [*_traffic("n1"), rec("/v0.3.8/api/v1/stop", S1 + 5_000, "POST", mock="n1")]
    report = audit(recs, TWO, SwitchContract(grace_ms=1000, stop_old=False))
    assert [(o.verdict, o.reason) for o in report.offenders] == [("stale", "")]
    assert report.stops == []


def test_stop_rule_nodes_list_and_multi_hop():
    recs = [
        rec("/v0.3.8/api/v1/stop", S1 + 10, "POST", mock="a"),
        rec("/v0.3.9/api/v1/stop", S2 + 10, "POST", mock="a"),
        rec("/v0.3.10/api/v1/state", S2 + 3_000, mock="a"),
    ]
    report = audit(recs, TIMELINE, STOP_CONTRACT, nodes=["a", "b"])
    assert [(s.old_version, s.node, s.status) for s in report.stops] == [
        ("v0.3.8", "a", "ok"),
        ("v0.3.8", "b", "missing"),
        ("v0.3.9", "a", "ok"),
        ("v0.3.9", "b", "missing"),
    ]
    assert [o.url for o in report.offenders] == ["/v0.3.8/api/v1/stop", "/v0.3.9/api/v1/stop"]
    assert report.counts == {"ok": 3, "late": 0, "stale": 0, "early": 0, "unversioned": 0, "unknown_version": 0}


def test_old_prefix_tail_excludes_the_stop():
    recs = [
        *_traffic("n1"),
        rec("/v0.3.8/api/v1/state", S1 + 300, mock="n1"),
        rec("/v0.3.8/api/v1/inference/up", S1 + 700, "POST", mock="n1"),
        rec("/v0.3.8/api/v1/stop", S1 + 900, "POST", mock="n1"),
    ]
    report = audit(recs, TWO, STOP_CONTRACT)
    assert report.verdict == "pass"
    assert report.measured_old_prefix_tail_ms == {"v0.3.8->v0.3.9": 700}
    assert audit(_traffic("n1"), TWO, NO_STOP).measured_old_prefix_tail_ms == {"v0.3.8->v0.3.9": None}


# ---------------------------------------------------------------- side-by-side (nginx strips the prefix)
def test_side_by_side_version_is_the_backend():
    old = journal(entry("/api/v1/state", 5_000), entry("/api/v1/stop", S1 + 100, "POST"), entry("/api/v1/state", S1 + 4_000))
    new = journal(entry("/api/v1/state", S1 + 50), entry("/v1/chat/completions", S1 + 60, "POST"))
    recs = records_from_journal(old, mock_id="n1-v0.3.8", node_id="n1", served_by_version="v0.3.8")
    recs += records_from_journal(new, mock_id="n1-v0.3.9", node_id="n1", served_by_version="v0.3.9")
    assert {(r.served_by_version, r.version_seen) for r in recs} == {("v0.3.8", "v0.3.8"), ("v0.3.9", "v0.3.9")}
    report = audit(recs, TWO, STOP_CONTRACT)
    assert [(s.node, s.status) for s in report.stops] == [("n1", "ok")]
    assert [(o.verdict, o.url, o.mock_id, o.served_by_version) for o in report.offenders] == [
        ("stale", "/api/v1/state", "n1-v0.3.8", "v0.3.8")
    ]


def test_side_by_side_original_uri_header_reveals_unversioned():
    body = journal(
        entry("/api/v1/state", S1 + 50, headers={"X-Original-URI": "/api/v1/state"}),
        entry("/api/v1/state", S1 + 60, headers={"x-original-uri": ["/v0.3.9/api/v1/state"]}),
    )
    recs = records_from_journal(body, mock_id="n1-v0.3.9", served_by_version="v0.3.9")
    assert [r.version_seen for r in recs] == [None, "v0.3.9"]


# ---------------------------------------------------------------- heights, reports, validation
def test_height_bracket_from_block_times():
    heights = [(40, S1 - 2_000), (41, S1 - 1_000), (42, S1), (43, S1 + 1_000), (44, S1 + 2_000)]
    report = audit([rec("/v0.3.8/health", S1 + 1_500)], TWO, NO_STOP, heights=heights)
    assert report.first_offender.height_bracket == (43, 44)
    assert audit([rec("/v0.3.9/health", 10)], TWO, NO_STOP).first_offender.height_bracket == (None, 42)
    with pytest.raises(ConfigError, match=r"heights\[0\]"):
        audit([], TWO, NO_STOP, heights=[("x", 1)])


def test_json_report_shape_and_determinism():
    recs = [*_traffic("n1"), rec("/v0.3.8/tokenize", S1 + 3_000, "POST", mock="n1"), rec("/health", 1, mock="n1")]
    report = audit(recs, TWO, STOP_CONTRACT)
    data = json.loads(report.to_json())
    assert data["verdict"] == "fail"
    assert data["counts"] == {"ok": 15, "late": 0, "stale": 1, "early": 0, "unversioned": 1, "unknown_version": 0}
    required = {"verdict", "method", "url", "logged_ms", "expected_version", "seen_version"}
    assert all(required <= set(o) for o in data["offenders"])
    assert [o["verdict"] for o in data["offenders"]] == ["unversioned", "stale", "missing_stop"]
    assert data["first_offender"]["url"] == "/health"
    assert data["stops"][0]["status"] == "missing"
    shuffled = list(recs)
    random.Random(7).shuffle(shuffled)
    assert audit(shuffled, TWO, STOP_CONTRACT).to_json() == report.to_json()


def test_text_report_names_the_first_offender():
    recs = [*_traffic("n1"), rec("/v0.3.8/v1/chat/completions?x=1", S1 + 3_000, "POST", mock="n1-inf", node="n1")]
    text = audit(recs, TWO, SwitchContract(grace_ms=1000), heights=[(42, S1), (43, S1 + 5_000)]).to_text()
    first = text.split("first offender:")[1].split("counts:")[0]
    for needle in ("stale", "POST /v0.3.8/v1/chat/completions?x=1", "n1-inf", "node: n1", str(S1 + 3_000), "42..43", "v0.3.9"):
        assert needle in first, (needle, text)
    assert text.startswith("prefix audit: FAIL")
    assert "missing_stop" in text.split("offenders (")[1]  # n1 never stopped v0.3.8: listed after the stale request


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "empty"),
        ({"version": "v0.3.8"}, "expected a JSON list"),
        ([{"version": "v0.3.8", "from_ms": 5}], "from_ms 0"),
        ([{"version": "v0.3.8", "from_ms": 0}, {"version": "v0.3.9", "from_ms": 0}], "increasing from_ms"),
        (
            [{"version": "v0.3.8", "from_ms": 0}, {"version": "v0.3.9", "from_ms": 9}, {"version": "v0.3.10", "from_ms": 5}],
            "entry 2",
        ),
        ([{"version": "0.3.8", "from_ms": 0}], "vMAJOR.MINOR.PATCH"),
        ([{"version": "v0.3.8", "from_ms": 0}, {"version": "v0.3.8", "from_ms": 9}], "appears twice in a row"),
        ([{"version": "v0.3.8", "from_ms": "0"}], "from_ms: expected an integer"),
        ([{"version": "v0.3.8", "from_ms": 0, "height": -1}], "height: must be >= 0"),
        ([{"version": "v0.3.8", "from_ms": 0, "hieght": 1}], "unknown keys"),
        ([{"from_ms": 0}], "needs 'version' and 'from_ms'"),
        (["v0.3.8"], "must be an object"),
    ],
)
def test_bad_timeline(data, message):
    with pytest.raises(ConfigError, match=message):
        SwitchTimeline.from_json(data, source="switches.json")


def test_timeline_round_trip_and_contract_validation():
    assert SwitchTimeline.from_json(TIMELINE.to_json()) == TIMELINE
    with pytest.raises(ConfigError, match="grace_ms"):
        SwitchContract(grace_ms=-1)
    with pytest.raises(ConfigError, match="stop_old"):
        SwitchContract(stop_old="yes")


# One entry of a real WireMock 2.35.1 journal (bundled jar, captured with curl): an unmatched POST, 404.
REAL_2_35_ENTRY = {
    "id": "d9f9f7b7-1748-4d46-b3c4-190249cdc6ad",
    "request": {
        "url": "/v0.3.8/api/v1/stop",
        "absoluteUrl": "http://127.0.0.1:38597/v0.3.8/api/v1/stop",
        "method": "POST",
        "clientIp": "127.0.0.1",
        "headers": {"Host": "127.0.0.1:38597", "User-Agent": "curl/7.88.1", "Accept": "*/*"},
        "cookies": {},
        "browserProxyRequest": False,
        "loggedDate": 1795894255395,
        "bodyAsBase64": "",
        "body": "",
        "protocol": "HTTP/1.1",
        "scheme": "http",
        "host": "127.0.0.1",
        "port": 38597,
        "loggedDateString": "2026-11-28T19:30:55Z",
        "queryParams": {},
    },
    "responseDefinition": {"status": 404, "fromConfiguredStub": False},
    "response": {"status": 404, "bodyAsBase64": "", "body": ""},
    "wasMatched": False,
    "timing": {"addedDelay": 0, "processTime": 0, "responseSendTime": 0, "serveTime": 0, "totalTime": 0},
    "stubMapping": {
        "id": "9075398c-3c04-4e0e-9b7e-5cd061c349b3",
        "request": {"method": "ANY"},
        "response": {"status": 404, "fromConfiguredStub": False},
        "uuid": "9075398c-3c04-4e0e-9b7e-5cd061c349b3",
    },
}


def test_real_wiremock_2_35_entry():
    body = {"requests": [copy.deepcopy(REAL_2_35_ENTRY)], "meta": {"total": 1}, "requestJournalDisabled": False}
    (r,) = records_from_journal(body, mock_id="wm")
    assert (r.logged_ms, r.method, r.version_seen, r.port_class, r.matched, r.request_id) == (
        1795894255395,
        "POST",
        "v0.3.8",
        "management",
        False,
        "d9f9f7b7-1748-4d46-b3c4-190249cdc6ad",
    )
    # its second-resolution loggedDateString is the fallback when loggedDate is absent
    del body["requests"][0]["request"]["loggedDate"]
    assert records_from_journal(body, mock_id="wm")[0].logged_ms == 1795894255000


def test_big_journal_leaves_the_gc_enabled_also_on_error():
    import gc

    entries = [entry("/v0.3.8/health", t) for t in range(10_001)]
    assert len(records_from_journal(journal(*entries), mock_id="m")) == 10_001
    assert gc.isenabled()
    entries.append({"request": {"url": "/health"}})
    with pytest.raises(ConfigError, match=r"requests\[10001\]"):
        records_from_journal(journal(*entries), mock_id="m")
    assert gc.isenabled()


# ---------------------------------------------------------------- rollback: a version comes back
ROLLBACK = SwitchTimeline([Switch("v0.3.8", 0), Switch("v0.3.9", 10_000, 10), Switch("v0.3.8", 20_000, 20)])


@pytest.mark.parametrize(
    ("url", "t_ms", "verdict"),
    [
        ("/v0.3.9/api/v1/state", 9_999, "early"),  # before the first switch
        ("/v0.3.8/api/v1/state", 15_000, "late"),  # between the switches, the old version
        ("/v0.3.9/api/v1/state", 15_000, "ok"),
        ("/v0.3.8/api/v1/state", 20_000, "ok"),  # rolled back: the old prefix is expected again
        ("/v0.3.9/v1/chat/completions", 20_500, "ok"),  # inside the rollback's grace
        ("/v0.3.9/v1/chat/completions", 21_000, "late"),  # the rolled-back version after grace
        ("/v0.3.10/health", 25_000, "unknown_version"),
    ],
)
def test_rollback_timeline(url, t_ms, verdict):
    method = "POST" if "chat" in url else "GET"
    report = audit([rec(url, t_ms, method)], ROLLBACK, NO_STOP)
    got = report.offenders[0].verdict if report.offenders else "ok"
    assert got == verdict, report.to_text()


def test_rollback_stop_rule_per_hop():
    records = [rec("/v0.3.8/api/v1/stop", 10_100, "POST", node="n1"), rec("/v0.3.9/api/v1/stop", 20_100, "POST", node="n1")]
    report = audit(records, ROLLBACK, SwitchContract(grace_ms=1000, stop_old=True), nodes=["n1"], end_ms=30_000)
    assert report.verdict == "pass", report.to_text()
    assert [(s.hop, s.old_version, s.status) for s in report.stops] == [(1, "v0.3.8", "ok"), (2, "v0.3.9", "ok")]


# ---------------------------------------------------------------- named contracts
def test_named_contracts():
    from harness.audit.contracts import PRE_UPGRADE_HOLD_S, SWITCH_SLACK_MS, UPGRADE_HOLD_S, contract_for

    ref = contract_for("reference")
    assert (ref.switch_offset, ref.grace_ms, ref.stop_old, ref.stop_once) == (0, SWITCH_SLACK_MS, True, True)
    pr = contract_for("pr228", block_time_s=0.2)  # PR #228's own 30 s tick
    assert (pr.switch_offset, pr.grace_ms, pr.stop_once) == (-1, 30_000 + 200 + SWITCH_SLACK_MS, False)
    assert contract_for("pr228", refresh_tick_s=2.0).grace_ms == 2_000 + SWITCH_SLACK_MS
    # the embedded chain's pause after an upgrade height must outlast the reference grace, or H+1 looks on time
    assert UPGRADE_HOLD_S * 1000 > ref.grace_ms
    assert PRE_UPGRADE_HOLD_S > 0.2  # longer than a default block: a node switching at H-1 has time to show it
    assert "switch while processing block H-1" in pr.describe()
    with pytest.raises(ConfigError, match="unknown API node contract 'pr999'"):
        contract_for("pr999")
    with pytest.raises(ConfigError, match="refresh tick"):
        contract_for("pr228", refresh_tick_s=0)


def test_stop_once_makes_a_second_stop_inside_grace_an_offender():
    once = SwitchContract(grace_ms=1000, stop_old=True, stop_once=True)
    stops = [rec("/v0.3.8/api/v1/stop", S1 + t, "POST", mock="n1") for t in (100, 200)]
    recs = [*_traffic("n1"), *stops]
    offenders = audit(recs, TWO, once).offenders
    assert [(o.verdict, o.reason, o.logged_ms) for o in offenders] == [("stale", "repeated_stop", S1 + 200)]
    assert audit(recs, TWO, STOP_CONTRACT).verdict == "pass"


def test_offender_names_where_it_lies_against_the_chain_timeline():
    def where(bracket: tuple[int | None, int | None]) -> str:
        o = Offender("unversioned", "GET", "/api/v1/state", 1000, "v0.3.8", None, "n1/*", None, None, bracket)
        return str(o).split("(", 1)[1].split(")", 1)[0]

    assert where((5, 6)) == "between heights 5 and 6"
    assert where((None, 6)) == "before height 6"  # sent before the first block the timeline saw
    assert where((9, None)) == "after height 9"
    assert where((None, None)) == "height unknown"


def test_a_switch_is_placed_where_the_node_first_showed_it_its_stop_or_its_first_new_request():
    """An on-time node stops the old version while block 42 is the latest; its first request on v0.3.9 comes after
    block 43 (the proxy let 43 and the blocks queued behind it through once it saw the stop). The switch is placed
    at the stop: 0 blocks after, not 1."""
    recs = [
        rec("/v0.3.8/api/v1/stop", S1 + 900, "POST", mock="n1"),
        rec("/v0.3.9/api/v1/state", S1 + 1_100, mock="n1"),
    ]
    report = audit(recs, TWO, STOP_CONTRACT, heights=HEIGHTS, nodes=["n1"])
    [seen] = report.switches_seen
    assert (seen.delay_ms, seen.stop_delay_ms, seen.latest_height, seen.blocks_after) == (1_100, 900, 42, 0)
