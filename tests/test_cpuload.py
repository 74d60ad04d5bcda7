"""The CPU load scenarios run beside them (harness/util/cpuload.py): bounded, gone with the context, refused when
asked for something unbounded."""

from __future__ import annotations

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
