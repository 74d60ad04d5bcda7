"""Waiting for conditions with deadlines. Nothing in the harness sleeps for synchronisation."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from harness.errors import WaitTimeout
from harness.util.progress import current

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T],
    *,
    timeout_s: float,
    what: str,
    interval_s: float = 0.05,
    evidence: Callable[[], str] | None = None,
    hint: str = "",
    abort: Callable[[], str | None] | None = None,
    progress: Callable[[], str] | None = None,
) -> T:
    """Poll `predicate` until it returns a truthy value, and return that value.

    `abort` is checked every round: a non-None string ends the wait at once (e.g. "process exited with 1").
    Exceptions from the predicate count as "not yet" and the last one is reported on timeout.
    A long wait is reported while it lasts when progress reporting is on (harness/util/progress.py): `what`, the time
    spent of `timeout_s`, and `progress()`, the wait's own detail ("height 31 of 40").
    """

    reporter = current()
    task = reporter.begin(what, timeout_s) if reporter is not None else None
    ok = False
    try:
        value = _poll(predicate, timeout_s, what, interval_s, evidence, hint, abort, task, progress)
        ok = True
        return value
    finally:
        if task is not None:
            task.end(ok)


def _poll(predicate, timeout_s, what, interval_s, evidence, hint, abort, task, progress):
    deadline = time.monotonic() + timeout_s
    last_exc: BaseException | None = None
    while True:
        if abort is not None:
            reason = abort()
            if reason:
                raise WaitTimeout(_message(what, timeout_s, f"aborted: {reason}", last_exc, evidence, hint))
        try:
            value = predicate()
            if value:
                return value
        except Exception as e:  # the condition is not met yet; keep the error as evidence
            last_exc = e
        if time.monotonic() >= deadline:
            raise WaitTimeout(_message(what, timeout_s, "deadline passed", last_exc, evidence, hint))
        if task is not None:
            task.tick(_detail(progress))
        time.sleep(interval_s)


def _detail(progress: Callable[[], str] | None) -> str:
    if progress is None:
        return ""
    try:
        return progress()
    except Exception as e:  # a detail that cannot be had never ends the wait
        return f"({type(e).__name__})"


def _message(
    what: str,
    timeout_s: float,
    why: str,
    last_exc: BaseException | None,
    evidence: Callable[[], str] | None,
    hint: str,
) -> str:
    lines = [f"waited for {what} ({timeout_s:.1f}s): {why}"]
    if last_exc is not None:
        lines.append(f"last error: {type(last_exc).__name__}: {last_exc}")
    if evidence is not None:
        try:
            lines.append(evidence())
        except Exception as e:
            lines.append(f"(evidence unavailable: {e})")
    if hint:
        lines.append(f"hint: {hint}")
    return "\n".join(lines)
