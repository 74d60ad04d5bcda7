"""The CPU load scenarios run beside them (harness/util/cpuload.py): bounded, gone with the context, refused when
asked for something unbounded, one at a time on a machine."""

from __future__ import annotations

import threading

import pytest

from harness.util.cpuload import CpuLoad
from harness.util.wait import wait_until


def test_the_load_runs_while_inside_and_is_gone_after() -> None:
    with CpuLoad(2, max_s=60) as load:
        procs = list(load._procs)
        assert load.running == 2
    assert load.running == 0
    assert all(p.poll() is not None for p in procs)


def test_each_spinner_stops_by_itself_at_its_bound() -> None:
    load = CpuLoad(1, max_s=0.5).start()
    try:
        wait_until(lambda: load.running == 0, timeout_s=30, what="the spinner to stop at its 0.5 s bound")
    finally:
        load.stop()


@pytest.mark.parametrize(("workers", "max_s"), [(-1, 10), (65, 10), (True, 10), (2, 0), (2, 10**9)])
def test_an_unbounded_load_is_refused(workers, max_s) -> None:
    with pytest.raises(ValueError, match="workers|max_s"):
        CpuLoad(workers, max_s=max_s)


def test_a_second_load_waits_until_the_first_has_stopped() -> None:
    first = CpuLoad(1, max_s=60).start()
    second = CpuLoad(1, max_s=60)
    starting = threading.Thread(target=second.start, daemon=True)
    try:
        starting.start()
        starting.join(timeout=1.0)  # a window in which the second must not start
        assert starting.is_alive(), "the second load started while the first was running"
        assert second.running == 0
    finally:
        first.stop()
    starting.join(timeout=30)
    try:
        assert not starting.is_alive(), "the second load did not start after the first stopped"
        assert second.running == 1
    finally:
        second.stop()
