"""Slow start: a new MLNode version is a container that takes time to load (MLNodeLifecycle(slow_start_s=N)).

WireMock has no timed scenario transitions, so the harness does the timing and WireMock the serving:

1. `arm()` adds one stub per loading version at priority 0 (above every MLNode stub, whose priorities start at 1):
   any method on `/<version>/...` (single topology), or on any path of that version's own WireMock (side-by-side),
   answers 503 `{"detail": "loading"}`. Requests are journaled as usual.
2. One watcher thread polls each armed WireMock's journal (`POST /__admin/requests/count`, every 50 ms) for the
   version's first request; the WireMock's own `loggedDate` of that request starts the clock.
3. At first request + N s it deletes the stub (`DELETE /__admin/mappings/{id}`): from then on the version answers
   with its ordinary mappings (STOPPED, waiting for `inference/up`). The thread ends by itself once every armed
   version is lifted, or at `stop()`.

What it models: the operator started the new version's container at the moment the API node first asked for it (at
the switch, for an API node that does not probe before), and the container answered 503 until it had loaded. The
window is N s from the first request's journal time, plus at most one poll (50 ms) and the admin call that lifts it. A scenario
reset (`rearm()`, between tests) installs the stubs again and waits for a new first request.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from dataclasses import dataclass, replace

from harness.errors import Unreachable
from harness.mlnode.journal import Journal
from harness.mlnode.stubs import STUB_ID_NAMESPACE
from harness.validate import shown

LOADING_PRIORITY = 0
POLL_S = 0.05
LOADING_BODY = {"detail": "loading"}


@dataclass(frozen=True)
class Loading:
    """One version loading on one WireMock: where, for how long, and what happened."""

    admin_url: str
    version: str
    loading_s: float
    pattern: str  # WireMock urlPathPattern of the version's requests on that WireMock
    mock: str = ""  # the MLNode (mock) name, for reports
    first_request_ms: int | None = None  # journal time of the version's first request since it was armed
    lifted_ms: int | None = None  # when the harness removed the loading stub
    error: str = ""  # why the watcher gave up on it (its mock went away)

    @property
    def stub_id(self) -> str:
        return str(uuid.uuid5(STUB_ID_NAMESPACE, f"loading {self.version} {self.pattern}"))

    def stub(self) -> dict:
        return {
            "id": self.stub_id,
            "name": f"loading {self.version}",
            "priority": LOADING_PRIORITY,
            "request": {"method": "ANY", "urlPathPattern": self.pattern},
            "response": {"status": 503, "headers": {"Content-Type": "application/json"}, "jsonBody": LOADING_BODY},
        }

    def describe(self) -> str:
        when = "no request yet" if self.first_request_ms is None else f"first request at {self.first_request_ms} ms"
        lifted = f", loaded at {self.lifted_ms} ms" if self.lifted_ms is not None else ", still loading"
        if self.error:
            lifted += f" (no longer watched: {self.error})"
        return f"{self.mock or self.admin_url} {self.version}: loading {self.loading_s:g} s, {when}{lifted}"


def version_pattern(version: str, *, own_wiremock: bool) -> str:
    """The requests of `version`: `/<version>/...` on a shared WireMock, everything on the version's own one."""
    return "/.*" if own_wiremock else f"/{re.escape(version)}(/.*)?"


class SlowStart:
    """Loading stubs on some (WireMock, version) pairs and the one thread that lifts them."""

    def __init__(self, targets: list[Loading], *, poll_s: float = POLL_S) -> None:
        self._items = list(targets)
        self.poll_s = poll_s
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def loading(self) -> list[Loading]:
        with self._lock:
            return list(self._items)

    def arm(self) -> None:
        """(Re)install every loading stub, forget earlier first requests, start the watcher."""
        self.stop()
        with self._lock:
            self._items = [replace(t, first_request_ms=None, lifted_ms=None) for t in self._items]
            items = list(self._items)
        for t in items:
            j = Journal(t.admin_url)
            try:
                j.add_mappings([t.stub()])
            except Exception as e:
                raise Unreachable(f"slow start: cannot install the loading stub of {t.version} on {t.admin_url}: "
                                  f"{type(e).__name__}: {shown(str(e), 200)}") from None  # fmt: skip
            finally:
                j.close()
        if items:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="mlnode-slow-start", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(10)
        self._thread = None

    def _run(self) -> None:
        journals: dict[str, Journal] = {}
        try:
            while not self._stop.is_set():
                pending = [(i, t.admin_url) for i, t in enumerate(self.loading) if t.lifted_ms is None and not t.error]
                if not pending:
                    return  # every version loaded: nothing left to watch
                for i, url in pending:
                    self._step(i, journals.setdefault(url, Journal(url)))
                self._stop.wait(self.poll_s)
        finally:
            for j in journals.values():
                j.close()

    def _step(self, i: int, journal: Journal) -> None:
        t = self.loading[i]
        try:
            if t.first_request_ms is None and journal.count_matching({"urlPathPattern": t.pattern}) > 0:
                first = journal.find({"urlPathPattern": t.pattern})
                if first:
                    t = self._update(i, first_request_ms=int(first[0]["loggedDate"]))
            if t.first_request_ms is not None and time.time() * 1000 >= t.first_request_ms + t.loading_s * 1000:
                journal.remove_mapping(t.stub_id)
                self._update(i, lifted_ms=int(time.time() * 1000))
        except Exception as e:  # a mock that went away (teardown): stop watching it, say why
            self._update(i, error=f"{type(e).__name__}: {e}")

    def _update(self, i: int, **changes: object) -> Loading:
        with self._lock:
            self._items[i] = replace(self._items[i], **changes)
            return self._items[i]
