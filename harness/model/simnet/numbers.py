"""Numbers on simnet's wire, parsed as the real chain parses them: Go's strconv.ParseInt for CometBFT's int64
arguments (sign allowed; no '1_0', no spaces; int64 range) and the SDK's LegacyDec (18-decimal fixed point, as gov
tallies with it). Settings (genesis, flags) are checked with harness.validate.
"""

from __future__ import annotations

import re

from harness.errors import ConfigError

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
UINT64_MAX = 2**64 - 1
MAX_UINT256 = 2**256 - 1
DEC_ONE = 10**18  # LegacyDec precision: 18 decimals

_INT_RE = re.compile(r"[+-]?[0-9]+")
_DEC_RE = re.compile(r"-?[0-9]+(?:\.[0-9]{1,18})?")


class IntSyntaxError(ValueError):
    """A string that Go's strconv.ParseInt(s, 10, 64) refuses; the message is Go's."""


def parse_int64(text: str) -> int:
    """Go's strconv.ParseInt(text, 10, 64): optional sign and ASCII digits only, within int64."""
    if not isinstance(text, str) or not _INT_RE.fullmatch(text) or len(text) > 40:
        raise IntSyntaxError(f"strconv.ParseInt: parsing {_go_quote(text)}: invalid syntax")
    value = int(text)
    if not INT64_MIN <= value <= INT64_MAX:
        raise IntSyntaxError(f"strconv.ParseInt: parsing {_go_quote(text)}: value out of range")
    return value


def _go_quote(text: object) -> str:
    s = str(text)
    if len(s) > 64:
        s = s[:64] + "..."
    return '"' + s.encode("unicode_escape", "replace").decode("ascii").replace('"', '\\"') + '"'


def parse_dec(value: object, field: str) -> int:
    """A decimal ('0.334', 0.5, 1) as LegacyDec's 18-decimal integer; ConfigError naming the field otherwise."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ConfigError(f"{field}: {value!r} must be a decimal such as '0.334'")
    text = repr(value) if isinstance(value, float) else str(value)
    if not _DEC_RE.fullmatch(text):
        raise ConfigError(f"{field}: {value!r} must be a decimal such as '0.334' (at most 18 decimals)")
    whole, _, frac = text.partition(".")
    sign = -1 if whole.startswith("-") else 1
    return sign * (abs(int(whole)) * DEC_ONE + int((frac or "0").ljust(18, "0")))


def dec_str(d: int) -> str:
    """LegacyDec.String(): '0.334000000000000000'."""
    sign = "-" if d < 0 else ""
    whole, frac = divmod(abs(d), DEC_ONE)
    return f"{sign}{whole}.{frac:018d}"


def _chop_round(x: int) -> int:
    """Divide by 10^18 rounding half to even (LegacyDec's chopPrecisionAndRound)."""
    sign = -1 if x < 0 else 1
    q, r = divmod(abs(x), DEC_ONE)
    if r * 2 > DEC_ONE or (r * 2 == DEC_ONE and q % 2 == 1):
        q += 1
    return sign * q


def dec_mul(a: int, b: int) -> int:
    return _chop_round(a * b)


def dec_quo(a: int, b: int) -> int:
    """LegacyDec.Quo: (a * 10^18 * 10^18 / b) truncated, then rounded half to even at 18 decimals."""
    if b == 0:
        raise ZeroDivisionError("LegacyDec division by zero")
    num = a * DEC_ONE * DEC_ONE
    q = abs(num) // abs(b)
    return _chop_round(q if (num < 0) == (b < 0) else -q)
