"""One small class per fault. A fault's frozen dataclass is its configuration (units in the field names); its one
method `apply(link)` acts on the connection and returns the outcome, or None to let the request through.

Where a fault acts (`stage`):
- CONNECT   when a client connection is accepted (refuse)
- IDLE      while a keep-alive connection waits for its next request (close_idle)
- REQUEST   after a full request was read, before it is forwarded (eof, reset, latency, blackhole)
- WEBSOCKET on an open websocket session (ws_drop)

Targets, windows and probability are handled once, by the schedule, never by a fault.
To add a fault: write a class here and register it in FAULTS.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Protocol

from harness.chaos.targets import MAX_FAULT_MS, FaultWindowSpec, Target
from harness.errors import ConfigError
from harness.validate import as_number, key_name, shown


class Stage(StrEnum):
    CONNECT = "connect"
    IDLE = "idle"
    REQUEST = "request"
    WEBSOCKET = "websocket"


class Outcome(StrEnum):
    OK = "ok"  # answered by the upstream (any HTTP status)
    EOF = "eof"  # request read, connection closed without an answer (FIN)
    RESET = "reset"  # connection reset (RST)
    TIMEOUT = "timeout"  # blackholed: never answered, closed when the client gave up or the fault ended
    REFUSED = "refused"  # connection accepted and reset at once
    CLOSED_IDLE = "closed_idle"  # idle keep-alive connection closed
    WS_DROPPED = "ws_dropped"  # websocket closed without a close frame (client sees 1006)
    WS_CLOSED = "ws_closed"  # websocket session ended normally
    UPSTREAM_ERROR = "upstream_error"  # upstream refused, closed or sent garbage
    BAD_REQUEST = "bad_request"  # malformed or oversized input from the client
    CLIENT_GONE = "client_gone"  # the client closed before the answer was written


FAILED_OUTCOMES = frozenset(
    {Outcome.EOF, Outcome.RESET, Outcome.TIMEOUT, Outcome.REFUSED, Outcome.UPSTREAM_ERROR, Outcome.WS_DROPPED}
)


class Link(Protocol):
    """What a fault may do to the connection it hits (implemented by the proxy)."""

    rng: random.Random  # this fault's own seeded PRNG (jitter etc.), separate from the decision PRNG

    def close(self) -> None:
        """Close the client connection with FIN, without answering."""

    def reset(self) -> None:
        """Close the client connection with RST (SO_LINGER 0)."""

    async def sleep_ms(self, ms: float) -> None: ...

    async def hold(self, hold_ms: float | None) -> bool:
        """Answer nothing until the client gives up (True), the fault ends or hold_ms passes (False)."""
        ...


@dataclass(frozen=True)
class Eof:
    """Read the full request, close without answering: the client sees EOF / RemoteDisconnected."""

    name: ClassVar[str] = "eof"
    stage: ClassVar[Stage] = Stage.REQUEST

    async def apply(self, link: Link) -> Outcome | None:
        link.close()
        return Outcome.EOF


@dataclass(frozen=True)
class Reset:
    """Read the full request, then RST: the client sees ConnectionResetError / 'connection reset by peer'."""

    name: ClassVar[str] = "reset"
    stage: ClassVar[Stage] = Stage.REQUEST

    async def apply(self, link: Link) -> Outcome | None:
        link.reset()
        return Outcome.RESET


@dataclass(frozen=True)
class CloseIdle:
    """Close (FIN) a keep-alive connection that has been idle for more than idle_ms."""

    idle_ms: float
    name: ClassVar[str] = "close_idle"
    stage: ClassVar[Stage] = Stage.IDLE

    async def apply(self, link: Link) -> Outcome | None:
        link.close()
        return Outcome.CLOSED_IDLE


@dataclass(frozen=True)
class WsDrop:
    """Close an open websocket with a bare TCP close (no close frame): the client sees close code 1006."""

    name: ClassVar[str] = "ws_drop"
    stage: ClassVar[Stage] = Stage.WEBSOCKET

    async def apply(self, link: Link) -> Outcome | None:
        link.close()
        return Outcome.WS_DROPPED


@dataclass(frozen=True)
class Latency:
    """Delay the request by latency_ms plus a seeded jitter drawn uniformly from [-jitter_ms, +jitter_ms] (never below 0)."""

    latency_ms: float
    jitter_ms: float = 0.0
    name: ClassVar[str] = "latency"
    stage: ClassVar[Stage] = Stage.REQUEST

    async def apply(self, link: Link) -> Outcome | None:
        jitter = link.rng.uniform(-self.jitter_ms, self.jitter_ms) if self.jitter_ms else 0.0
        await link.sleep_ms(max(0.0, self.latency_ms + jitter))
        return None


@dataclass(frozen=True)
class Blackhole:
    """Read the request and never answer; close when the client gives up, the fault ends, or after hold_ms."""

    hold_ms: float | None = None
    name: ClassVar[str] = "blackhole"
    stage: ClassVar[Stage] = Stage.REQUEST

    async def apply(self, link: Link) -> Outcome | None:
        await link.hold(self.hold_ms)
        link.close()
        return Outcome.TIMEOUT


@dataclass(frozen=True)
class Refuse:
    """New connections are accepted and reset at once (RST): the client sees ECONNRESET on its first read or write
    (Python: ConnectionResetError; Go: 'connection reset by peer'). The port keeps listening, so a connection can be
    targeted and other clients are unaffected; true ECONNREFUSED would need the listener closed."""

    name: ClassVar[str] = "refuse"
    stage: ClassVar[Stage] = Stage.CONNECT

    async def apply(self, link: Link) -> Outcome | None:
        link.reset()
        return Outcome.REFUSED


Fault = Eof | Reset | CloseIdle | WsDrop | Latency | Blackhole | Refuse
FAULTS: dict[str, type[Fault]] = {c.name: c for c in (Eof, Reset, CloseIdle, WsDrop, Latency, Blackhole, Refuse)}


def make_fault(name: Any, params: Any = None) -> Fault:
    """Build a fault from its name and a params object, naming the offending field on bad input."""
    if not isinstance(name, str) or name not in FAULTS:
        raise ConfigError(f"fault: got {shown(name)}, expected one of {', '.join(FAULTS)}")
    cls = FAULTS[name]
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ConfigError(f"params: got {shown(params)}, expected a JSON object")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in params:
        if key not in fields:
            accepted = ", ".join(fields) or "none"
            raise ConfigError(f"params.{key_name(key)}: unknown parameter for fault {name!r}; accepted: {accepted}")
    for fname, f in fields.items():
        required = f.default is dataclasses.MISSING
        limit = PARAM_LIMITS_MS[fname]
        if fname not in params:
            if required:
                raise ConfigError(f"params.{fname}: required for fault {name!r} (milliseconds from 0 to {limit:.0f})")
            continue
        v = params[fname]
        if v is None and not required:
            continue
        as_number(v, f"params.{fname}", hi=limit, unit="milliseconds")
    return cls(**params)


# Every parameter is a finite number of milliseconds up to its limit: a held or delayed request is always released.
PARAM_LIMITS_MS = {"latency_ms": 600_000.0, "jitter_ms": 600_000.0, "idle_ms": MAX_FAULT_MS, "hold_ms": MAX_FAULT_MS}


@dataclass(frozen=True)
class FaultSpec:
    """A fault with its target and window: what `POST /faults` and `add_fault` take."""

    fault: Fault
    target: Target = field(default_factory=Target)
    window: FaultWindowSpec = field(default_factory=FaultWindowSpec)

    def __post_init__(self) -> None:
        if not isinstance(self.fault, tuple(FAULTS.values())):
            raise ConfigError(f"fault: got {self.fault!r}, expected one of the fault classes {', '.join(FAULTS)}")
        if not self.window.bounded:
            raise ConfigError(
                f"window: fault {self.fault.name!r} has no end; give window.end_ms, window.end_unix_ms, "
                "window.end_height, window.max_count or window.max_duration_ms (unbounded faults are refused)"
            )

    def to_json(self) -> dict[str, Any]:
        def clean(obj: Any) -> dict[str, Any]:
            return {
                k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(obj).items() if v not in (None, ())
            }

        return {
            "fault": self.fault.name,
            "params": dataclasses.asdict(self.fault),
            "target": clean(self.target),
            "window": clean(self.window),
        }

    @classmethod
    def of(cls, spec: dict[str, Any] | FaultSpec | Fault, target: Target | None = None, window: FaultWindowSpec | None = None
           ) -> FaultSpec:  # fmt: skip
        """A JSON-style dict (checked), a FaultSpec, or a fault object plus target/window, as a FaultSpec."""
        if isinstance(spec, dict):
            return cls.from_json(spec)
        if isinstance(spec, FaultSpec):
            return spec
        return cls(spec, target or Target(), window or FaultWindowSpec())

    @classmethod
    def from_json(cls, doc: Any) -> FaultSpec:
        if not isinstance(doc, dict):
            raise ConfigError(f"spec: got {type(doc).__name__}, expected a JSON object with fault, target, window, params")
        unknown = sorted(map(str, set(doc) - {"fault", "target", "window", "params"}))
        if unknown:
            raise ConfigError(f"{key_name(unknown[0])}: unknown field; accepted: fault, target, window, params")
        if "fault" not in doc:
            raise ConfigError(f"fault: missing; expected one of {', '.join(FAULTS)}")
        fault = make_fault(doc["fault"], doc.get("params"))
        return cls(fault, Target.from_json(doc.get("target")), FaultWindowSpec.from_json(doc.get("window")))
