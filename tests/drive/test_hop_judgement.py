"""What a clean hop is (harness.drive.assertions.hop_problems, used by scenarios and `harness demo`), on hand-built
hop reports: the audit, the old-version stops, failed user chats outside the hop's own windows, the chat after."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from harness.audit import Switch, audit, contract_for, record_from_url
from harness.backends.contract import Participant
from harness.clients.api import ChatResult
from harness.drive.assertions import assert_hop_clean, hop_problems
from harness.drive.hop import HopReport
from harness.drive.traffic import ExcusedWindow, SentChat

S = 1_000_000
TIMELINE = [Switch("v0.3.8", 0), Switch("v0.3.9", S, height=10)]
OK_CHAT = ChatResult(200, "Response from MLNode v0.3.9", "{}", 12.0)


@dataclass
class Node:
    id: str


@dataclass
class FakeTestnet:
    mlnodes: list

    @property
    def participants(self) -> list[Participant]:  # one participant, as every backend but a network has
        return [Participant("p1", self.mlnodes, None, "", "")]


def _rec(url: str, t_ms: int, method: str = "GET"):
    return record_from_url(url, logged_ms=t_ms, mock_id="mlnode-1/*", node_id="mlnode-1", method=method)


def _records(*, stop: bool = True, late_ms: int | None = None):
    recs = [_rec("/v0.3.8/api/v1/state", S - 500)]
    if stop:
        recs.append(_rec("/v0.3.8/api/v1/stop", S + 20, "POST"))
    recs.append(_rec("/v0.3.9/api/v1/state", S + 30))
    if late_ms is not None:
        recs.append(_rec("/v0.3.8/api/v1/state", S + late_ms))
    return recs


def hop(*, failures=(), windows=(), chat_after=OK_CHAT, **records) -> HopReport:
    report = audit(_records(**records), TIMELINE, contract_for("reference"), end_ms=S + 5_000)
    stops = {"mlnode-1": 1} if records.get("stop", True) else {}
    return HopReport(
        "v0.3.8", "v0.3.9", 10, 1, 10, S, S - 3_000, S + 5_000, report, chat_after, list(failures), stops, list(windows)
    )


def failed_chat(start_ms: int) -> SentChat:
    return SentChat(start_ms, ChatResult(503, "", '{"error": "no MLNode available"}', 5.0, "HTTP 503"), False)


TN = FakeTestnet([Node("mlnode-1")])


def test_a_clean_hop_has_no_problems():
    assert hop_problems(hop(), TN) == []
    assert_hop_clean(hop(), TN)


def test_a_failed_chat_inside_a_named_window_is_the_hops_own_doing():
    disable = ExcusedWindow("admin disable mlnode-1", S - 2_000, S - 1_900)
    clean = hop(failures=[failed_chat(S - 1_950)], windows=[disable])
    assert clean.user_failures == []
    assert hop_problems(clean, TN) == []


def test_a_failed_chat_outside_the_windows_is_a_user_failure():
    disable = ExcusedWindow("admin disable mlnode-1", S - 2_000, S - 1_900)
    bad = hop(failures=[failed_chat(S + 100)], windows=[disable])
    [problem] = hop_problems(bad, TN)
    assert "1 user chats failed across v0.3.8 -> v0.3.9" in problem
    assert "['admin disable mlnode-1']" in problem
    assert f"chat at {S + 100} ms (json): HTTP 503" in problem
    with pytest.raises(AssertionError, match="user chats failed"):
        assert_hop_clean(bad, TN)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"late_ms": 2_000}, "prefix audit failed"),
        ({"stop": False}, "no POST /v0.3.8/api/v1/stop after the switch on ['mlnode-1']"),
        ({"chat_after": ChatResult(200, "Response from MLNode v0.3.8", "{}", 3.0)}, "expected the v0.3.9 MLNode"),
        ({"chat_after": ChatResult(500, "", "boom", 3.0, "HTTP 500")}, "chat after the switch failed"),
        ({"chat_after": None}, "no chat was sent after the switch"),
    ],
)
def test_each_problem_is_named(kwargs, needle):
    problems = hop_problems(hop(**kwargs), TN)
    assert any(needle in p for p in problems), problems


def test_chat_traffic_that_did_not_run_across_the_switch_is_named():
    spanning = hop()
    spanning.traffic_spans = {"": (S - 3_000, S + 2_000)}
    assert hop_problems(spanning, TN) == []
    stopped = hop()
    stopped.traffic_spans = {"": (S - 3_000, S - 10)}  # ran out (max_requests / max_duration_s) before the switch
    [problem] = hop_problems(stopped, TN)
    assert f"ran from {S - 3_000} to {S - 10} ms, not across the switch at {S} ms" in problem
    silent = hop()
    silent.traffic_spans = {"p2": None}
    [problem] = hop_problems(silent, TN)
    assert problem == "the hop's chat traffic to p2 sent no chat: nothing shows what users saw across the switch"


def test_the_down_before_the_switch_check_names_what_the_node_heard_before_it_went_down():
    from harness.drive.assertions import assert_down_before_the_switch

    def rec(path: str, ms: int, method: str = "GET", node: str = "mlnode-1"):
        return record_from_url(path, logged_ms=ms, mock_id=node, method=method, node_id=node)

    def check(records) -> None:
        assert_down_before_the_switch(records, ["mlnode-1"], since_ms=50, down_ms=200, old="v0.3.8", new="v0.3.9")

    # its own start (stop, then up, of the version it runs) came before the upgrade was scheduled: no switch
    start = [rec("/v0.3.8/api/v1/stop", 10, method="POST"), rec("/v0.3.8/api/v1/inference/up", 20, method="POST")]
    before = [*start, rec("/v0.3.8/api/v1/state", 100), rec("/v0.3.9/api/v1/state", 150, node="mlnode-9")]
    check(before)  # another node's new-version request is not this node's
    late = [*before, rec("/v0.3.8/api/v1/stop", 180, method="POST"), rec("/v0.3.9/api/v1/state", 250)]
    heard = r"taken down at 200 ms \(\[.POST /v0\.3\.8/api/v1/stop at 180 ms.\]\)"
    with pytest.raises(AssertionError, match=heard):
        check(late)
    with pytest.raises(AssertionError, match="GET /v0.3.9/api/v1/state at 190 ms"):
        check([rec("/v0.3.9/api/v1/state", 190)])
