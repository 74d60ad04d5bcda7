"""The audit's view of the MLNode lifecycle across a switch: the order a node used (stop old, up new), the gap it
cost, user chats failed in it, and the `refused` offender for a lifecycle command an MLNode answered 409. Pure."""

from __future__ import annotations

import json

import pytest

from harness.audit import Switch, SwitchTimeline, audit, contract_for, record_from_url, records_from_journal
from harness.audit.lifecycle import NO_STOP, STOP_THEN_UP, UP_BEFORE_STOP, UserChat, switch_orders

S = 1_000_000  # the switch to v0.3.9
TIMELINE = SwitchTimeline([Switch("v0.3.8", 0), Switch("v0.3.9", S, height=20)])


def rec(t: int, method: str, url: str, status: int | None, node: str = "mlnode-1"):
    return record_from_url(url, logged_ms=t, mock_id=node, method=method, request_id=f"{node}-{t}-{url}", status=status)


def stop_then_up() -> list:
    """The reference switch: old stop at S+5, the new version's state, stop, inference/up; a chat to the new
    version refused while it was not up yet, then answered."""
    return [
        rec(S - 100, "POST", "/v0.3.8/v1/chat/completions", 200),
        rec(S + 2, "POST", "/v0.3.9/v1/chat/completions", 503),
        rec(S + 5, "POST", "/v0.3.8/api/v1/stop", 200),
        rec(S + 9, "GET", "/v0.3.9/api/v1/state", 200),
        rec(S + 12, "POST", "/v0.3.9/api/v1/stop", 200),
        rec(S + 30, "POST", "/v0.3.9/api/v1/inference/up", 200),
        rec(S + 40, "POST", "/v0.3.9/v1/chat/completions", 200),
    ]


def up_before_stop() -> list:
    """A node that brings the new version up first: refused (409) while v0.3.8 holds the MLNode, then the old stop,
    then the reconcile a poll later brings v0.3.9 up (a chat failed meanwhile)."""
    return [
        rec(S + 3, "GET", "/v0.3.9/api/v1/state", 200),
        rec(S + 6, "POST", "/v0.3.9/api/v1/stop", 200),
        rec(S + 8, "POST", "/v0.3.9/api/v1/inference/up", 409),
        rec(S + 10, "POST", "/v0.3.8/api/v1/stop", 200),
        rec(S + 50, "POST", "/v0.3.9/v1/chat/completions", 503),
        rec(S + 400, "POST", "/v0.3.9/api/v1/stop", 200),
        rec(S + 410, "POST", "/v0.3.9/api/v1/inference/up", 200),
        rec(S + 420, "POST", "/v0.3.9/v1/chat/completions", 200),
    ]


def test_stop_then_up_order_and_gap() -> None:
    chats = [UserChat("", S + 1, S + 20, ok=True), UserChat("", S + 25, S + 60, ok=False), UserChat("", S + 500, S + 510, False)]
    (o,) = switch_orders(stop_then_up(), TIMELINE, ["mlnode-1"], end_ms=S + 1000, user_chats={"mlnode-1": chats})
    assert (o.order, o.stop_ms, o.up_ms, o.up_ok_ms, o.refused) == (STOP_THEN_UP, S + 5, S + 30, S + 30, 0)
    assert (o.serving_ms, o.gap_ms, o.open_gap) == (S + 30, 25, False)
    assert o.mlnode_chat_failures == 0  # the refused chat came before the stop: not in the gap
    assert (o.user_chats, o.user_failed) == (2, 1)  # the chats overlapping [S+5, S+30); the one at S+500 is outside
    assert o.describe() == (
        "mlnode-1 v0.3.8 -> v0.3.9: stop, then up; inference/up +25 ms from the stop; gap 25 ms; "
        "0 MLNode chat answers failed in it, 1 of 2 user chats failed in it"
    )


def test_up_before_stop_order_refusal_and_gap() -> None:
    (o,) = switch_orders(up_before_stop(), TIMELINE, None, end_ms=S + 1000)
    assert (o.order, o.stop_ms, o.up_ms, o.up_ok_ms, o.refused) == (UP_BEFORE_STOP, S + 10, S + 8, S + 410, 1)
    assert (o.serving_ms, o.gap_ms) == (S + 410, 400)
    assert o.mlnode_chat_failures == 1
    assert o.user_failed is None  # the users' side was not given
    assert "user chats not observed" in o.describe()
    assert "1 lifecycle command(s) refused (409)" in o.describe()


def test_no_stop_and_an_open_gap() -> None:
    never_up = [rec(S + 5, "POST", "/v0.3.8/api/v1/stop", 200), rec(S + 9, "GET", "/v0.3.9/api/v1/state", 503)]
    (o,) = switch_orders(
        never_up, TIMELINE, None, end_ms=S + 2000, user_chats={"mlnode-1": [UserChat("", S + 900, S + 905, False)]}
    )
    assert (o.order, o.gap_ms, o.open_gap, o.user_failed) == ("no up", None, True, 1)
    assert "gap still open: v0.3.9 never served after the stop" in o.describe()
    no_stop = [rec(S + 5, "POST", "/v0.3.9/api/v1/inference/up", 200)]
    (o,) = switch_orders(no_stop, TIMELINE, None, end_ms=S + 2000)
    assert (o.order, o.gap_ms, o.open_gap) == (NO_STOP, None, False)
    # the new version served (stateless mock) before the old one was stopped: no gap at all
    served_first = [rec(S + 1, "POST", "/v0.3.9/v1/chat/completions", 200), rec(S + 5, "POST", "/v0.3.8/api/v1/stop", 200)]
    (o,) = switch_orders(served_first, TIMELINE, None, end_ms=S + 2000)
    assert (o.gap_ms, o.open_gap) == (0, False)


def test_the_audit_reports_both_orders_and_fails_the_refusal() -> None:
    recs = stop_then_up() + [r._replace(mock_id="mlnode-2", request_id="2" + r.request_id) for r in up_before_stop()]
    chats = [UserChat("", S + 45, S + 60, ok=False)]
    report = audit(recs, TIMELINE, contract_for("reference"), end_ms=S + 1000, user_chats=chats)
    by_node = {o.node: o for o in report.lifecycle}
    assert by_node["mlnode-1"].order == STOP_THEN_UP
    assert by_node["mlnode-2"].order == UP_BEFORE_STOP
    assert (by_node["mlnode-1"].user_failed, by_node["mlnode-2"].user_failed) == (0, 1)  # [S+5,S+30) vs [S+10,S+410)
    assert report.verdict == "fail"
    refused = [o for o in report.offenders if o.verdict == "refused"]
    assert [(o.node, o.url, o.expected_version) for o in refused] == [("mlnode-2", "/v0.3.9/api/v1/inference/up", "v0.3.9")]
    text = report.to_text()
    assert "switch order per node" in text
    assert "mlnode-1 v0.3.8 -> v0.3.9: stop, then up" in text
    assert "mlnode-2 v0.3.8 -> v0.3.9: up before stop" in text
    assert "refused" in text
    doc = json.loads(report.to_json())
    assert [(o["node"], o["order"], o["gap_ms"]) for o in doc["lifecycle"]] == [
        ("mlnode-1", STOP_THEN_UP, 25),
        ("mlnode-2", UP_BEFORE_STOP, 400),
    ]


def test_a_clean_stop_then_up_passes() -> None:
    report = audit(stop_then_up(), TIMELINE, contract_for("reference"), end_ms=S + 1000)
    assert report.verdict == "pass", report.to_text()
    assert report.lifecycle[0].user_failed is None


@pytest.mark.parametrize(
    ("response", "status"),
    [({"status": 409}, 409), ({"status": 200, "fault": "CONNECTION_RESET_BY_PEER"}, 0), (None, None), ({"status": "x"}, None)],
)
def test_journal_status_is_read(response: dict | None, status: int | None) -> None:
    entry: dict = {"id": "a", "request": {"url": "/v0.3.9/api/v1/inference/up", "method": "POST", "loggedDate": 5}}
    if response is not None:
        entry["response"] = response
    (fast,) = records_from_journal({"requests": [entry]}, mock_id="m")
    (side,) = records_from_journal({"requests": [entry]}, mock_id="m", served_by_version="v0.3.9")
    assert fast.status == status
    assert side.status == status


def test_fault_judgement_helpers() -> None:
    from harness.drive.mlnode_faults import _clear, _retries

    assert _clear(503, '{"error": "no MLNode available for model \'m\'", "nodes": "mlnode-1: status=FAILED"}')
    assert _clear(500, '{"error": "MLNode mlnode-1 answered HTTP 504 (2 attempts in 2000 ms)"}')
    assert not _clear(0, "")  # the user's client gave up: no answer at all
    assert not _clear(500, "Internal Server Error")  # not JSON: says nothing
    assert not _clear(200, '{"error": "MLNode"}')

    def chat(t: int, version: str, prompt: str) -> dict:
        body = json.dumps({"messages": [{"role": "user", "content": prompt}]})
        return {"request": {"url": f"/{version}/v1/chat/completions", "loggedDate": t, "body": body}}

    entries = [
        chat(3, "v0.3.9", "a"),
        chat(1, "v0.3.8", "a"),
        chat(2, "v0.3.8", "b"),
        chat(4, "v0.3.9", "c"),
        chat(5, "v0.3.9", "c"),
    ]
    retried = _retries(entries)
    assert sorted(retried.values()) == [["v0.3.8", "v0.3.9"], ["v0.3.9", "v0.3.9"]]  # in time order; "b" went once
