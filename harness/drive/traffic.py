"""Background traffic through the API node: chat completions at a steady pace (bounded in count and
time), so every moment around a switch has inference requests to audit."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from harness.drive.api import ApiClient, ChatResult


@dataclass(frozen=True)
class SentChat:
    started_ms: int
    result: ChatResult
    stream: bool


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
    ) -> None:
        self.api = api
        self.interval_s = interval_s
        self.max_requests = max_requests
        self.max_duration_s = max_duration_s
        self.stream_every = stream_every
        self.timeout_s = timeout_s
        self.sent: list[SentChat] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chat-traffic", daemon=True)

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
            self.sent.append(SentChat(started, res, stream))
            n += 1
            self._stop.wait(self.interval_s)

    def failures(self, since_ms: int = 0) -> list[SentChat]:
        return [s for s in self.sent if s.started_ms >= since_ms and not s.result.ok]
