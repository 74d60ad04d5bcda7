"""Which events a fault hits (Target) and when it is live (Window). Both are frozen, typed, unit-suffixed.

Target fields compose with AND; an empty Target hits everything of the fault's stage.
- `methods`: JSON-RPC method names; a batch matches if any element matches. Empty = any.
- `nth`: the Nth event (1-based) that passes the other filters, counted from when the fault was added.
  With `methods`, that is "the Nth call of that method".
- `connection_id`: one proxy connection (ids are 1, 2, 3... in accept order; see the history).
- `nth_connection`: the k-th connection accepted after the fault was added.
- `kind`: "any", "http" (plain requests) or "websocket" (upgrade requests and websocket sessions).
- `probability`: 0..1, compared with the one number the proxy's seeded PRNG draws for this fault and event.

Window fields also compose with AND. Times are wall-clock unix milliseconds (the history uses the same clock).
- `start_ms`/`end_ms`: offsets from when the fault was added; `start_unix_ms`/`end_unix_ms`: absolute.
- `start_height`/`end_height` (inclusive): the proxy's view of the block height (NewBlock events it sees on
  websockets, `status` responses, or `set_height`). While the height is unknown a height start is not reached.
- `max_count`: the fault applies at most this many times; `max_duration_ms`: it ends this long after it was added.
Every fault needs at least one end: `end_ms`, `end_unix_ms`, `end_height`, `max_count` or `max_duration_ms`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from harness.errors import ConfigError

KINDS = ("any", "http", "websocket")


@dataclass(frozen=True)
class FaultEvent:
    """Something a fault may hit: a new connection, an idle connection, a request, a websocket session."""

    kind: str  # "http", "websocket" or "connection"
    conn_id: int
    methods: tuple[str, ...] = ()
    idle_ms: float = 0.0


@dataclass(frozen=True)
class Target:
    methods: tuple[str, ...] = ()
    nth: int | None = None
    connection_id: int | None = None
    nth_connection: int | None = None
    kind: str = "any"
    probability: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.methods, str):
            object.__setattr__(self, "methods", (self.methods,))
        _positive_int("target.nth", self.nth)
        _positive_int("target.connection_id", self.connection_id)
        _positive_int("target.nth_connection", self.nth_connection)
        if self.kind not in KINDS:
            raise ConfigError(f"target.kind: got {self.kind!r}, expected one of {', '.join(KINDS)}")
        if self.probability is not None and (
            isinstance(self.probability, bool)
            or not isinstance(self.probability, int | float)
            or not 0.0 <= self.probability <= 1.0
        ):
            raise ConfigError(f"target.probability: got {self.probability!r}, expected a number from 0 to 1")
        if not all(isinstance(m, str) and m for m in self.methods):
            raise ConfigError(f"target.methods: got {self.methods!r}, expected JSON-RPC method names such as 'abci_query'")

    def filters_match(self, event: FaultEvent, first_conn_id: int) -> bool:
        """Every filter except `nth` and `probability`."""
        if self.kind != "any" and event.kind not in (self.kind, "connection"):
            return False
        if self.methods and not any(m in self.methods for m in event.methods):
            return False
        if self.connection_id is not None and event.conn_id != self.connection_id:
            return False
        return not (self.nth_connection is not None and event.conn_id != first_conn_id + self.nth_connection - 1)

    @classmethod
    def from_json(cls, doc: Any) -> Target:
        doc = _object("target", doc)
        doc = dict(doc)
        if "method" in doc:
            if "methods" in doc:
                raise ConfigError("target.method: give either 'method' or 'methods', not both")
            doc["methods"] = [doc.pop("method")]
        if "methods" in doc:
            ms = doc["methods"]
            if not isinstance(ms, list):
                raise ConfigError(f"target.methods: got {ms!r}, expected a list of JSON-RPC method names")
            doc["methods"] = tuple(ms)
        return _build(cls, "target", doc)


@dataclass(frozen=True)
class Window:
    start_ms: float | None = None
    end_ms: float | None = None
    start_unix_ms: float | None = None
    end_unix_ms: float | None = None
    start_height: int | None = None
    end_height: int | None = None
    max_count: int | None = None
    max_duration_ms: float | None = None

    def __post_init__(self) -> None:
        for name in ("start_ms", "end_ms", "start_unix_ms", "end_unix_ms", "max_duration_ms"):
            _non_negative_number(f"window.{name}", getattr(self, name))
        for name in ("start_height", "end_height"):
            _non_negative_int(f"window.{name}", getattr(self, name))
        _positive_int("window.max_count", self.max_count)
        for a, b in (("start_ms", "end_ms"), ("start_unix_ms", "end_unix_ms"), ("start_height", "end_height")):
            lo, hi = getattr(self, a), getattr(self, b)
            if lo is not None and hi is not None and hi < lo:
                raise ConfigError(f"window.{b}: {hi} is before window.{a} {lo}")

    @property
    def bounded(self) -> bool:
        ends = (self.end_ms, self.end_unix_ms, self.end_height, self.max_count, self.max_duration_ms)
        return any(e is not None for e in ends)

    def start_unix(self, added_unix_ms: float) -> float:
        starts = [added_unix_ms]
        if self.start_ms is not None:
            starts.append(added_unix_ms + self.start_ms)
        if self.start_unix_ms is not None:
            starts.append(self.start_unix_ms)
        return max(starts)

    def end_unix(self, added_unix_ms: float) -> float:
        """When the time bounds end the fault (inf if only a height or count ends it)."""
        ends = [math.inf]
        if self.end_ms is not None:
            ends.append(added_unix_ms + self.end_ms)
        if self.end_unix_ms is not None:
            ends.append(self.end_unix_ms)
        if self.max_duration_ms is not None:
            ends.append(added_unix_ms + self.max_duration_ms)
        return min(ends)

    def ended(self, now_ms: float, added_unix_ms: float, height: int | None, applied: int) -> bool:
        if now_ms >= self.end_unix(added_unix_ms):
            return True
        if self.end_height is not None and height is not None and height > self.end_height:
            return True
        return self.max_count is not None and applied >= self.max_count

    def live(self, now_ms: float, added_unix_ms: float, height: int | None, applied: int) -> bool:
        if self.ended(now_ms, added_unix_ms, height, applied) or now_ms < self.start_unix(added_unix_ms):
            return False
        return self.start_height is None or (height is not None and height >= self.start_height)

    @classmethod
    def from_json(cls, doc: Any) -> Window:
        return _build(cls, "window", dict(_object("window", doc)))


def _object(field: str, doc: Any) -> dict[str, Any]:
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ConfigError(f"{field}: got {type(doc).__name__} {doc!r}, expected a JSON object")
    return doc


def _build(cls: Any, field: str, doc: dict[str, Any]) -> Any:
    names = [f.name for f in dataclasses.fields(cls)]
    for key in doc:
        if key not in names:
            raise ConfigError(f"{field}.{key}: unknown field; accepted: {', '.join(names)}")
    return cls(**doc)


def _positive_int(field: str, v: Any) -> None:
    if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
        raise ConfigError(f"{field}: got {v!r}, expected an integer >= 1")


def _non_negative_int(field: str, v: Any) -> None:
    if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
        raise ConfigError(f"{field}: got {v!r}, expected an integer >= 0")


def _non_negative_number(field: str, v: Any) -> None:
    if v is not None and (isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v < 0):
        raise ConfigError(f"{field}: got {v!r}, expected a number >= 0")
