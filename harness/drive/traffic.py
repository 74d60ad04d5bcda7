"""Background traffic through the API node: chat completions at a steady pace (bounded in count and
time), so every moment around a switch has inference requests to audit, and every failed chat is known.

A failed chat is a user-visible failure unless it overlaps a `ExcusedWindow` the scenario itself opened on purpose
(an admin disable, a PoC cycle), each named, so `unexcused(failures, windows)` is what a user would call downtime.
In a network each participant's API node gets its own traffic; a window opened on one participant excuses only that
participant's chats."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from harness.clients.api import ApiClient, ChatResult


@dataclass(frozen=True)
class SentChat:
    started_ms: int
    result: ChatResult
    stream: bool
    participant: str = ""  # the participant whose API node it was sent to ("": the testnet's only one)

    @property
    def ended_ms(self) -> int:
        return self.started_ms + int(self.result.elapsed_ms) + 1

    def describe(self) -> str:
        r = self.result
        to = f" to {self.participant}" if self.participant else ""
        return f"chat{to} at {self.started_ms} ms ({'stream' if self.stream else 'json'}): {r.error or r.status} {r.body[:200]!r}"


@dataclass(frozen=True)
class ExcusedWindow:
    """A span in which the scenario itself made the API node refuse chats (e.g. "admin disable mlnode-1")."""

    name: str
    start_ms: int
    end_ms: int
    participant: str = ""  # the participant whose API node refused ("": every participant)

    def overlaps(self, chat: SentChat) -> bool:
        if self.participant and chat.participant and self.participant != chat.participant:
            return False
        return chat.started_ms <= self.end_ms and chat.ended_ms >= self.start_ms


def unexcused(failures: list[SentChat], windows: list[ExcusedWindow]) -> list[SentChat]:
    """The failed chats that overlap no intended window (a chat in flight when a window opened is inside it)."""
    return [f for f in failures if not any(w.overlaps(f) for w in windows)]


class ChatTraffic:
    """Sends one chat every `interval_s` until stopped, `max_requests` reached or `max_duration_s` passed."""

    def __init__(
        self,
        api: ApiClient,
        *,
        interval_s: float = 0.05,
        max_requests: int = 2000,
        max_duration_s: float = 120.0,
        stream_every: int = 4,
        timeout_s: float = 5.0,
        participant: str = "",
    ) -> None:
        # its own client (own HTTP session): the scenario's thread keeps using `api` meanwhile
        self.api = api.with_urls(api.public_url, api.admin_url)
        self.participant = participant
        self.interval_s = interval_s
        self.max_requests = max_requests
        self.max_duration_s = max_duration_s
        self.stream_every = stream_every
        self.timeout_s = timeout_s
        self.sent: list[SentChat] = []
        self._stop = threading.Event()
        name = f"chat-traffic-{participant}" if participant else "chat-traffic"
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def __enter__(self) -> ChatTraffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(self.timeout_s + 5)

    def _run(self) -> None:
        deadline = time.monotonic() + self.max_duration_s
        n = 0
        while not self._stop.is_set() and n < self.max_requests and time.monotonic() < deadline:
            stream = self.stream_every > 0 and n % self.stream_every == self.stream_every - 1
            started = int(time.time() * 1000)
            res = self.api.chat(f"traffic #{n}", stream=stream, timeout_s=self.timeout_s)
            self.sent.append(SentChat(started, res, stream, self.participant))
            n += 1
            self._stop.wait(self.interval_s)

    def span(self) -> tuple[int, int] | None:
        """(when the first chat started, when the last one ended), ms; None before any chat was sent."""
        if not self.sent:
            return None
        return self.sent[0].started_ms, max(s.ended_ms for s in self.sent)

    def failures(self, since_ms: int = 0) -> list[SentChat]:
        return [s for s in self.sent if s.started_ms >= since_ms and not s.result.ok]
