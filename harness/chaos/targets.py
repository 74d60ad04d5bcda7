"""Which events a fault hits (Target) and when it is live (FaultWindowSpec). Both are frozen, typed, unit-suffixed.

Target fields compose with AND; an empty Target hits everything of the fault's stage.
- `methods`: JSON-RPC method names; a batch matches if any element matches. Empty = any.
- `nth`: the Nth event (1-based) that passes the other filters, counted from when the fault was added.
  With `methods`, that is "the Nth call of that method".
- `connection_id`: one proxy connection (ids are 1, 2, 3... in accept order; see the history).
- `nth_connection`: the k-th connection accepted after the fault was added.
- `kind`: "any", "http" (plain requests) or "websocket" (upgrade requests and websocket sessions).
- `probability`: 0..1, compared with the one number the proxy's seeded PRNG draws for this fault and event.

FaultWindowSpec fields also compose with AND. Times are wall-clock unix milliseconds (the history uses the same clock).
- `start_ms`/`end_ms`: offsets from when the fault was added; `start_unix_ms`/`end_unix_ms`: absolute.
- `start_height`/`end_height` (inclusive): the proxy's view of the block height (NewBlock events it sees on
  websockets, `status` responses, or `set_height`). While the height is unknown a height start is not reached.
- `max_count`: the fault applies at most this many times; `max_duration_ms`: it ends this long after it was added.
Every fault needs at least one end: `end_ms`, `end_unix_ms`, `end_height`, `max_count` or `max_duration_ms`.

Bounds (a value past them is refused, naming the field): times are finite; offsets and durations at most
MAX_FAULT_MS (24 h); absolute times within MAX_FAULT_MS of now when the fault is added; heights are CometBFT int64
and an end height at most MAX_HEIGHT_SPAN blocks above the height the proxy knows; counts at most 10^9. Whatever
its window says, a fault ends MAX_FAULT_MS after it was added: no fault is unbounded in effect.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from harness.errors import ConfigError
from harness.validate import MAX_UNIX_MS, as_height, as_int, as_number, key_name, shown

KINDS = ("any", "http", "websocket")
MAX_FAULT_MS = 24 * 3600 * 1000.0  # every fault ends at most this long after it was added
MAX_HEIGHT_SPAN = 100_000  # an end height at most this many blocks above the height the proxy knows
MAX_COUNT = 10**9
MAX_METHODS = 64


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
        elif isinstance(self.methods, list):
            object.__setattr__(self, "methods", tuple(self.methods))
        _positive_int("target.nth", self.nth)
        _positive_int("target.connection_id", self.connection_id)
        _positive_int("target.nth_connection", self.nth_connection)
        if not isinstance(self.kind, str) or self.kind not in KINDS:
            raise ConfigError(f"target.kind: got {shown(self.kind)}, expected one of {', '.join(KINDS)}")
        if self.probability is not None:
            as_number(self.probability, "target.probability", hi=1.0)
        if (not isinstance(self.methods, tuple) or len(self.methods) > MAX_METHODS
                or not all(isinstance(m, str) and 0 < len(m) <= 128 for m in self.methods)):  # fmt: skip
            raise ConfigError(
                f"target.methods: got {shown(self.methods)}, expected at most {MAX_METHODS} JSON-RPC method names "
                "such as 'abci_query'"
            )

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
                raise ConfigError(f"target.methods: got {shown(ms)}, expected a list of JSON-RPC method names")
            doc["methods"] = tuple(ms)
        return _build(cls, "target", doc)


@dataclass(frozen=True)
class FaultWindowSpec:
    start_ms: float | None = None
    end_ms: float | None = None
    start_unix_ms: float | None = None
    end_unix_ms: float | None = None
    start_height: int | None = None
    end_height: int | None = None
    max_count: int | None = None
    max_duration_ms: float | None = None

    def __post_init__(self) -> None:
        for name in ("start_ms", "end_ms", "max_duration_ms"):
            _number(f"window.{name}", getattr(self, name), hi=MAX_FAULT_MS)
        for name in ("start_unix_ms", "end_unix_ms"):
            _number(f"window.{name}", getattr(self, name), hi=MAX_UNIX_MS)
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

    def check_against(self, now_ms: float, height: int | None) -> None:
        """The bounds that depend on when the fault is added: absolute times near now, an end height near the known
        height (ConfigError naming the field)."""
        for name in ("start_unix_ms", "end_unix_ms"):
            t = getattr(self, name)
            if t is not None and abs(t - now_ms) > MAX_FAULT_MS:
                raise ConfigError(
                    f"window.{name}: {shown(t)} is more than {MAX_FAULT_MS / 3.6e6:.0f} h from now ({now_ms:.0f}); "
                    "give a unix time in milliseconds within a day, or end_ms for an offset"
                )
        if self.end_height is not None and height is not None and self.end_height > height + MAX_HEIGHT_SPAN:
            raise ConfigError(
                f"window.end_height: {self.end_height} is more than {MAX_HEIGHT_SPAN} blocks above the current height "
                f"{height}: unbounded in effect; give a nearer height or a time end"
            )

    def end_unix(self, added_unix_ms: float) -> float:
        """When the time bounds end the fault: at the latest MAX_FAULT_MS after it was added."""
        ends = [added_unix_ms + MAX_FAULT_MS]
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
    def from_json(cls, doc: Any) -> FaultWindowSpec:
        return _build(cls, "window", dict(_object("window", doc)))


def _object(field: str, doc: Any) -> dict[str, Any]:
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ConfigError(f"{field}: got {type(doc).__name__} {shown(doc)}, expected a JSON object")
    return doc


def _build(cls: Any, field: str, doc: dict[str, Any]) -> Any:
    names = [f.name for f in dataclasses.fields(cls)]
    for key in doc:
        if key not in names:
            raise ConfigError(f"{field}.{key_name(key)}: unknown field; accepted: {', '.join(names)}")
    return cls(**doc)


def _positive_int(field: str, v: Any) -> None:
    if v is not None:
        as_int(v, field, lo=1, hi=MAX_COUNT)


def _non_negative_int(field: str, v: Any) -> None:
    if v is not None:
        as_height(v, field)


def _number(field: str, v: Any, *, hi: float) -> None:
    if v is not None:
        as_number(v, field, hi=hi, unit="milliseconds")
