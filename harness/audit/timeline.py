"""The switch timeline: which version is expected when (the contract is in contracts.py, the clock in basis.py).

Boundaries (every window contains its start and excludes its end, like `from_ms` itself):
- a switch to version V at `from_ms` S means: from S on (S included) V is expected, and V before S is `early`
  (V is allowed in [S - early_tolerance_ms, S));
- `due_ms` D: the API node must have shown its switch (a request on V, or its old-version stop) by D; an old-prefix
  request at or after D from a node that had not is `late`, an old-version stop at or after D is `late_stop`;
- `until_ms` U (>= D): after the node switched, old-prefix requests still in flight are allowed until U; at or after
  U they are `stale`.
Without them (a timeline written by hand, or judged by header times), D = U = S + the contract's grace_ms: a request
at exactly S + grace_ms with the old prefix is `late` or `stale`; with grace_ms 0, one at exactly S already is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from harness.errors import ConfigError
from harness.versions import check_version


def _int_field(value: Any, field: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{field}: expected an integer, got {value!r}")
    if value < minimum:
        raise ConfigError(f"{field}: must be >= {minimum}, got {value}")
    return value


_KEYS = ("version", "from_ms", "height", "due_ms", "until_ms")


def chain_switch(version: str, upgrade_height: int, switch_block: int, block_ms: Callable[[int], int | None]) -> Switch:
    """The switch to `version` on the chain clock, the one place S is read off the chain: the header time of block B
    (`switch_block`, from SwitchContract.switch_block(upgrade_height)); `block_ms(height)` gives a block's header time in
    unix ms, None when the caller does not have that block (LookupError, naming it)."""
    ms = block_ms(switch_block)
    if ms is None:
        raise LookupError(f"block {switch_block} (the switch to {version} at height {upgrade_height}) has no known header time")
    return Switch(version=version, from_ms=int(ms), height=upgrade_height)


@dataclass(frozen=True, slots=True)
class Switch:
    """From `from_ms` (epoch ms: when the block whose processing switches the API node was made, or reached it) on,
    `version` is expected. `height`: the upgrade height H. `due_ms`/`until_ms`: see the module docstring (None: the
    contract's grace after from_ms)."""

    version: str
    from_ms: int
    height: int | None = None
    due_ms: int | None = None
    until_ms: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "version", check_version(self.version, field="switch version"))
        _int_field(self.from_ms, f"switch to {self.version}: from_ms")
        if self.height is not None:
            _int_field(self.height, f"switch to {self.version}: height")
        due, until = self.due_ms, self.until_ms
        if due is not None:
            _int_field(due, f"switch to {self.version}: due_ms", minimum=self.from_ms)
        if until is not None:
            if due is None:
                raise ConfigError(f"switch to {self.version}: until_ms needs due_ms (the time the switch was due)")
            _int_field(until, f"switch to {self.version}: until_ms", minimum=due)

    def due(self, grace_ms: int) -> int:
        """When the node must have shown the switch (old prefix from a node that had not: `late`)."""
        return self.due_ms if self.due_ms is not None else self.from_ms + grace_ms

    def until(self, grace_ms: int) -> int:
        """Until when old-prefix requests in flight are allowed after the node switched (then: `stale`)."""
        return self.until_ms if self.until_ms is not None else self.due(grace_ms)

    def label(self) -> str:
        return f"{self.version}@h{self.height}" if self.height is not None else self.version


@dataclass(frozen=True)
class SwitchTimeline:
    """Ordered switches; the first is the starting version with from_ms 0. A version may reappear (rollback),
    never twice in a row."""

    switches: tuple[Switch, ...]

    def __init__(self, switches: Iterable[Switch]) -> None:
        items = tuple(switches)
        if not items:
            raise ConfigError("switch timeline is empty; the first entry must be the starting version with from_ms 0")
        if items[0].from_ms != 0:
            raise ConfigError(
                f"switch timeline: the first entry ({items[0].version}) must be the starting version with from_ms 0, "
                f"got from_ms {items[0].from_ms}"
            )
        for i in range(1, len(items)):
            prev, cur = items[i - 1], items[i]
            if cur.from_ms <= prev.from_ms:
                raise ConfigError(
                    f"switch timeline: entry {i} ({cur.version}, from_ms {cur.from_ms}) is not after entry {i - 1} "
                    f"({prev.version}, from_ms {prev.from_ms}); list the switches in increasing from_ms"
                )
        seen: dict[str, int] = {}
        for i, s in enumerate(items):
            # A version may come back (a rollback upgrade), but a switch to the version already current is no switch.
            if i > 0 and s.version == items[i - 1].version:
                raise ConfigError(f"switch timeline: version {s.version} appears twice in a row (entries {i - 1} and {i})")
            seen.setdefault(s.version, i)
        object.__setattr__(self, "switches", items)
        object.__setattr__(self, "_starts", [s.from_ms for s in items])
        object.__setattr__(self, "_index", seen)

    @classmethod
    def from_json(cls, data: Any, *, source: str = "switches") -> SwitchTimeline:
        """`[{"version": "v0.3.8", "from_ms": 0}, {"version": "v0.3.9", "from_ms": 1795891867794, "height": 42}]`."""
        if not isinstance(data, list):
            raise ConfigError(f"{source}: expected a JSON list of {{version, from_ms, height}}, got {type(data).__name__}")
        out = []
        for i, item in enumerate(data):
            if not isinstance(item, dict):
                raise ConfigError(f"{source}: entry {i} must be an object {{version, from_ms, height}}, got {item!r}")
            unknown = set(item) - set(_KEYS)
            if unknown:
                raise ConfigError(f"{source}: entry {i} has unknown keys {sorted(unknown)}; allowed: {', '.join(_KEYS)}")
            if "version" not in item or "from_ms" not in item:
                raise ConfigError(f"{source}: entry {i} needs 'version' and 'from_ms', got {item!r}")
            try:
                out.append(Switch(item["version"], item["from_ms"], item.get("height"), item.get("due_ms"), item.get("until_ms")))
            except ConfigError as e:
                raise ConfigError(f"{source}: entry {i}: {e}") from None
        try:
            return cls(out)
        except ConfigError as e:
            raise ConfigError(f"{source}: {e}") from None

    def to_json(self) -> list[dict[str, Any]]:
        out = []
        for s in self.switches:
            d = {"version": s.version, "from_ms": s.from_ms, "height": s.height}
            if s.due_ms is not None:
                d.update(due_ms=s.due_ms, until_ms=s.until_ms)
            out.append(d)
        return out

    @property
    def versions(self) -> list[str]:
        return [s.version for s in self.switches]

    def index_of(self, version: str | None) -> int | None:
        """Position of a version's first appearance in the timeline, None when it is not in it."""
        return self._index.get(version) if version is not None else None  # type: ignore[attr-defined]

    def __len__(self) -> int:
        return len(self.switches)
