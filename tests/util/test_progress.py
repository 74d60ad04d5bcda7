"""Progress of long waits (harness/util/progress.py): what is awaited and how far along, as a live line on a terminal
and as plain lines elsewhere; on for the `harness` command, off in background threads."""

from __future__ import annotations

import io
import threading

import pytest

import harness.cli
from harness.errors import WaitTimeout
from harness.util.progress import Reporter, current, reporting
from harness.util.wait import wait_until


class FakeClock:
    def __init__(self, step_s: float) -> None:
        self.now, self.step_s = 0.0, step_s

    def __call__(self) -> float:
        self.now += self.step_s
        return self.now


def test_plain_lines_when_it_is_no_terminal():
    out = io.StringIO()
    r = Reporter(out, live=False, clock=FakeClock(2.0), show_after_s=3.0, plain_every_s=10.0)
    task = r.begin("height 40", 120)  # clock 2
    for h in range(31, 40):  # clock 4, 6, ... 20
        task.tick(f"height {h} of 40")
    task.end(ok=True)  # clock 22
    assert out.getvalue().splitlines() == [
        "waiting for height 40: 4 s of 120 s; height 32 of 40",  # seen to be long (over 3 s)
        "waiting for height 40: 14 s of 120 s; height 37 of 40",  # then every 10 s
        "done waiting for height 40 after 20.0 s",
    ]


def test_one_live_line_on_a_terminal():
    out = io.StringIO()
    r = Reporter(out, live=True, clock=FakeClock(2.0), show_after_s=1.0)
    task = r.begin("a signed chat answered 200", 600)
    task.tick("last answer: HTTP 503")
    task.tick("last answer: HTTP 200")
    task.end(ok=False)
    first = "waiting for a signed chat answered 200: 2 s of 600 s; last answer: HTTP 503"
    second = "waiting for a signed chat answered 200: 4 s of 600 s; last answer: HTTP 200"
    done = "gave up waiting for a signed chat answered 200 after 6.0 s"
    assert out.getvalue() == f"\r{first}\r{second}\r{done}{' ' * (len(second) - len(done))}\n"  # rewritten in place


def test_a_short_wait_says_nothing():
    out = io.StringIO()
    task = Reporter(out, clock=FakeClock(0.5), show_after_s=3.0).begin("x", 10)
    task.tick()
    task.end(ok=True)
    assert out.getvalue() == ""


def test_wait_until_reports_what_it_awaits_and_its_detail():
    out = io.StringIO()
    polls = []

    def ready() -> bool:
        polls.append(1)
        return len(polls) >= 4

    with reporting(out, live=False, show_after_s=0.0, plain_every_s=0.0):
        assert wait_until(ready, timeout_s=30, what="the thing", interval_s=0.01, progress=lambda: f"poll {len(polls)}")
        with pytest.raises(WaitTimeout):
            wait_until(lambda: False, timeout_s=0.05, what="the impossible", interval_s=0.01)
    lines = out.getvalue().splitlines()
    assert [ln.split(":")[0] for ln in lines[:3]] == ["waiting for the thing"] * 3
    assert lines[0].endswith("of 30 s; poll 1")
    assert lines[2].endswith("poll 3")
    assert lines[3].startswith("done waiting for the thing after ")
    assert lines[-1].startswith("gave up waiting for the impossible after ")
    assert current() is None, "off again after the block"


def test_background_threads_never_report():
    out = io.StringIO()
    seen = []
    with reporting(out, live=False, show_after_s=0.0):
        worker = threading.Thread(target=lambda: seen.append(current()))
        worker.start()
        worker.join(10)
    assert seen == [None]


def test_the_harness_command_reports_on_stderr(monkeypatch, capsys):
    seen = []

    def gather(_ctx) -> dict:
        seen.append(current())
        return {"chain": {}}

    monkeypatch.setattr("harness.ops.status.gather", gather)
    code = harness.cli.main(["status", "--chain-rpc", "http://127.0.0.1:9", "--json"])
    assert code == 0, capsys.readouterr().err
    (reporter,) = seen
    assert reporter is not None
    assert reporter.stream is not None and reporter.live is False  # noqa: PT018 (captured stderr is no terminal)
