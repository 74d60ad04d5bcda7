"""The switch timeline: which version is expected when (the contract is in contracts.py).

Boundaries (both windows contain their start and exclude their end, like `from_ms` itself):
- a switch to version V at `from_ms` S means: from S on (S included) V is expected;
- grace: the previous version is still allowed in [S, S + grace_ms); a request at exactly S + grace_ms with the
  old prefix is `late` or `stale`. With grace_ms 0, an old-prefix request at exactly S is already one;
- early tolerance: V is allowed in [S - early_tolerance_ms, S); at S - early_tolerance_ms - 1 it is `early`.
"""

from __future__ import annotations

from collections.abc import Iterable
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


@dataclass(frozen=True, slots=True)
class Switch:
    """From `from_ms` (epoch ms, the time the API node switched) on, `version` is expected. `height`: the block."""

    version: str
    from_ms: int
    height: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "version", check_version(self.version, field="switch version"))
        _int_field(self.from_ms, f"switch to {self.version}: from_ms")
        if self.height is not None:
            _int_field(self.height, f"switch to {self.version}: height")

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
            unknown = set(item) - {"version", "from_ms", "height"}
            if unknown:
                raise ConfigError(f"{source}: entry {i} has unknown keys {sorted(unknown)}; allowed: version, from_ms, height")
            if "version" not in item or "from_ms" not in item:
                raise ConfigError(f"{source}: entry {i} needs 'version' and 'from_ms', got {item!r}")
            try:
                out.append(Switch(item["version"], item["from_ms"], item.get("height")))
            except ConfigError as e:
                raise ConfigError(f"{source}: entry {i}: {e}") from None
        try:
            return cls(out)
        except ConfigError as e:
            raise ConfigError(f"{source}: {e}") from None

    def to_json(self) -> list[dict]:
        return [{"version": s.version, "from_ms": s.from_ms, "height": s.height} for s in self.switches]

    @property
    def versions(self) -> list[str]:
        return [s.version for s in self.switches]

    def index_of(self, version: str | None) -> int | None:
        """Position of a version's first appearance in the timeline, None when it is not in it."""
        return self._index.get(version) if version is not None else None  # type: ignore[attr-defined]

    def __len__(self) -> int:
        return len(self.switches)
