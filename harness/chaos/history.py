"""What the proxy saw: one record per request / connection event / websocket session, and the fault decisions.

Times are wall-clock unix milliseconds (time.time() * 1000), the clock of fault windows and of block timelines.
The history keeps the newest `max_records` records; `dropped` counts older ones that were let go.
"""

from __future__ import annotations

import dataclasses
import json
from collections import deque
from dataclasses import dataclass
from typing import Any

from harness.chaos.faults import FAILED_OUTCOMES, Outcome


@dataclass
class ProxiedRequest:
    seq: int  # 1, 2, 3... over all records of this proxy
    kind: str  # "http", "websocket" (a session after the 101), "connection" (refused, closed idle, bad input)
    conn_id: int
    start_ms: float
    end_ms: float | None  # None while in flight
    methods: tuple[str, ...] = ()
    path: str = ""
    fault: str | None = None  # names of applied faults joined by "+", e.g. "latency+eof"
    fault_ids: tuple[int, ...] = ()
    outcome: str = "in_flight"  # an Outcome value once finished
    status: int | None = None  # upstream HTTP status when answered
    bytes_in: int = 0  # client -> upstream
    bytes_out: int = 0  # upstream -> client
    error: str = ""

    @property
    def failed(self) -> bool:
        return self.outcome in FAILED_OUTCOMES

    @property
    def ok(self) -> bool:
        return self.outcome == Outcome.OK

    def to_json(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["methods"] = list(self.methods)
        d["fault_ids"] = list(self.fault_ids)
        d["outcome"] = str(self.outcome)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ProxiedRequest:
        names = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        kw["methods"] = tuple(kw.get("methods", ()))
        kw["fault_ids"] = tuple(kw.get("fault_ids", ()))
        return cls(**kw)


@dataclass(frozen=True)
class Decision:
    """One fault considered for one event: the number drawn for it and whether it applied."""

    event: int  # 1, 2, 3... events (connection, idle expiry, request, websocket check) in the order judged
    stage: str
    conn_id: int
    methods: tuple[str, ...]
    fault_id: int
    fault: str
    draw: float
    applied: bool

    def key(self) -> tuple[int, str, tuple[str, ...], int, str, float, bool]:
        """What must be equal between a run and its replay (connection ids may differ across processes)."""
        return (self.event, self.stage, self.methods, self.fault_id, self.fault, round(self.draw, 12), self.applied)

    def to_json(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["methods"] = list(self.methods)
        return d


class History:
    def __init__(self, max_records: int = 200_000) -> None:
        self.records: deque[ProxiedRequest] = deque(maxlen=max_records)
        self.decisions: deque[Decision] = deque(maxlen=max_records)
        self.dropped = 0
        self.next_seq = 1

    def open(self, **fields: Any) -> ProxiedRequest:
        if len(self.records) == self.records.maxlen:
            self.dropped += 1
        rec = ProxiedRequest(seq=self.next_seq, **fields)
        self.next_seq += 1
        self.records.append(rec)
        return rec

    def snapshot(self) -> list[ProxiedRequest]:
        return [dataclasses.replace(r) for r in self.records]

    def clear(self) -> None:
        self.records.clear()
        self.decisions.clear()
        self.dropped = 0
        self.next_seq = 1


def history_to_json(records: list[ProxiedRequest], decisions: list[Decision], *, seed: int, dropped: int = 0) -> str:
    doc = {
        "seed": seed,
        "dropped": dropped,
        "records": [r.to_json() for r in records],
        "decisions": [d.to_json() for d in decisions],
    }
    return json.dumps(doc, indent=1)


def as_records(history: Any) -> list[ProxiedRequest]:
    """Accept records, dicts (from the control API) or a `{"records": [...]}` document."""
    if isinstance(history, dict):
        history = history.get("records", [])
    return [r if isinstance(r, ProxiedRequest) else ProxiedRequest.from_json(r) for r in history]
