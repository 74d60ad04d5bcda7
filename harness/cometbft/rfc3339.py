"""CometBFT times: RFC3339Nano in UTC with a trailing `Z`, fractional zeros dropped (`2025-03-01T12:00:05.12Z`)."""

from __future__ import annotations

import calendar
import re

from harness.errors import ChainError

_RFC3339_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$")


def parse_rfc3339_ns(text: str) -> int:
    """Unix time in nanoseconds of an RFC3339(Nano) timestamp; ChainError if it is not one."""
    m = _RFC3339_RE.match(text or "")
    if not m:
        raise ChainError(f"block time {text!r} is not RFC3339Nano (expected e.g. 2025-03-01T12:00:05.12Z)")
    year, month, day, hour, minute, second = (int(m[i]) for i in range(1, 7))
    frac_ns = int((m[7] or "").ljust(9, "0"))
    seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    if m[8] != "Z":
        sign = 1 if m[8][0] == "+" else -1
        offset_s = sign * (int(m[8][1:3]) * 3600 + int(m[8][4:6]) * 60)
        seconds -= offset_s
    return seconds * 1_000_000_000 + frac_ns


def parse_rfc3339_ms(text: str) -> int:
    """Unix time in milliseconds (truncated) of an RFC3339(Nano) timestamp."""
    return parse_rfc3339_ns(text) // 1_000_000
