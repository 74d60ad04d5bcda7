"""Progress of long waits: what is awaited and how far along it is, for starts, PoC epochs and hops on the real stack
(about 100 s to a real node's first signed chat, minutes per hop).

Off unless someone turns it on for the current thread (`with reporting(sys.stderr):`; the `harness` command does, and
so does the pytest plugin for the gonka backend). Then every `wait_until` that lasts longer than `show_after_s` reports:
on a terminal one live line rewritten in place, elsewhere (CI, a log file) plain lines: when the wait is seen to be
long, every `plain_every_s`, and when it ends. Each line says what is awaited, the time spent of the deadline, and the
wait's own detail (e.g. "height 31 of 40", "last answer: HTTP 503").

    with reporting(sys.stderr):
        wait_until(ready, timeout_s=600, what="a signed chat answered 200", progress=lambda: f"last answer: {last}")
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TextIO


@dataclass
class Reporter:
    stream: TextIO
    live: bool = False  # a terminal: one line rewritten in place
    clock: Callable[[], float] = time.monotonic
    show_after_s: float = 3.0
    plain_every_s: float = 15.0

    def begin(self, what: str, timeout_s: float) -> Task:
        return Task(self, what, timeout_s, self.clock())

    def write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed or broken stream never breaks the wait it reports on
            pass


@dataclass
class Task:
    reporter: Reporter
    what: str
    timeout_s: float
    started: float
    shown: bool = False
    last_plain: float = field(default=0.0)
    width: int = 0

    def _line(self, elapsed: float, detail: str) -> str:
        extra = f"; {detail}" if detail else ""
        return f"waiting for {self.what}: {elapsed:.0f} s of {self.timeout_s:.0f} s{extra}"

    def tick(self, detail: str = "") -> None:
        r = self.reporter
        now = r.clock()
        elapsed = now - self.started
        if elapsed < r.show_after_s:
            return
        line = self._line(elapsed, detail)
        if r.live:
            pad = max(0, self.width - len(line))
            r.write("\r" + line + " " * pad)
            self.width = len(line)
        elif not self.shown or now - self.last_plain >= r.plain_every_s:
            r.write(line + "\n")
            self.last_plain = now
        self.shown = True

    def end(self, ok: bool) -> None:
        if not self.shown:
            return
        r = self.reporter
        elapsed = r.clock() - self.started
        done = f"{'done' if ok else 'gave up'} waiting for {self.what} after {elapsed:.1f} s"
        if r.live:
            r.write("\r" + done + " " * max(0, self.width - len(done)) + "\n")
        else:
            r.write(done + "\n")


_CURRENT: ContextVar[Reporter | None] = ContextVar("harness_progress", default=None)


def current() -> Reporter | None:
    """The reporter of this thread (threads a wait runs in the background of never report: they start unset)."""
    return _CURRENT.get()


@contextlib.contextmanager
def reporting(stream: TextIO, *, live: bool | None = None, **kw) -> Iterator[Reporter]:
    """Report long waits on `stream` while the block runs (live: whether it is a terminal, unless given)."""
    if live is None:
        try:
            live = stream.isatty()
        except (AttributeError, ValueError):
            live = False
    reporter = Reporter(stream, live=live, **kw)
    token = _CURRENT.set(reporter)
    try:
        yield reporter
    finally:
        _CURRENT.reset(token)


class PytestTerminal:
    """A stream onto pytest's terminal that sets output capturing aside for each write (the plugin reports the real
    stack's long waits through it)."""

    def __init__(self, config) -> None:
        self.capman = config.pluginmanager.getplugin("capturemanager")
        self.tw = config.get_terminal_writer()

    def write(self, text: str) -> None:
        ctx = self.capman.global_and_fixture_disabled() if self.capman is not None else contextlib.nullcontext()
        with ctx:
            self.tw.write(text)
            self.tw.flush()

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return bool(self.tw.hasmarkup)
