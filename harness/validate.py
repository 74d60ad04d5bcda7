"""Validation of the values that cross a boundary (CLI flags, config files, JSON bodies, journals), one function per
kind of value. Each returns the clean value or raises ConfigError naming the field, what it got and the accepted
form; what it got is quoted shortened (`shown`), so an oversized input is never echoed whole.

    as_int(v, "target.nth", lo=1)          integers (JSON ints, never bools or floats), in range
    int_text("99", "--at")                 a decimal integer written as text: digits only, at most 19 of them
    as_height(v, "end_height")             a block height: 0..2^63-1 (CometBFT's int64)
    as_unix_ms(v, "loggedDate")            epoch milliseconds: finite, 0..year 9999; a float is truncated
    as_number(v, "latency_ms", hi=...)     a finite int or float in range (never NaN or +-Infinity)
    as_port(v, "api.admin_server_port")    a TCP port, 1..65535 (0 allowed with allow_zero: allocate one)
    as_text(v, "id", max_len=128)          a string of bounded length, optionally matching a pattern
    http_url(text, "--chain-rpc")          http(s)://HOST[:PORT][/path], no userinfo, port in range
Versions have their own module (harness/versions.py).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any
from urllib.parse import urlsplit

from harness.errors import ConfigError

MAX_INT64 = 2**63 - 1
MAX_UNIX_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
MAX_URL_LEN = 2048
SHOWN_CHARS = 80
_DECIMAL_RE = re.compile(r"(?:0|[1-9][0-9]{0,18})", re.ASCII)
_CONTROL_RE = re.compile(r"[\x00-\x20\x7f]")


def shown(value: Any, limit: int = SHOWN_CHARS) -> str:
    """repr() of a value, cut to about `limit` characters with the full length noted: safe to put in a message."""
    try:
        text = repr(value)
    except Exception:  # a repr that raises (or recurses too deep) still gets a message
        text = f"<{type(value).__name__}>"
    if len(text) <= limit:
        return text
    size = f"{len(value)} characters" if isinstance(value, str | bytes) else f"{len(text)} characters as text"
    return f"{text[: limit - 3]}... ({size})"


def key_name(key: Any, limit: int = 40) -> str:
    """A mapping key for a message: as written when short and printable, else shown()."""
    return key if isinstance(key, str) and len(key) <= limit and key.isprintable() else shown(key, limit)


def as_int(value: Any, field: str, *, lo: int = 0, hi: int = MAX_INT64, what: str = "an integer") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{field}: expected {what} from {lo} to {hi}, got {shown(value)}")
    if not lo <= value <= hi:
        raise ConfigError(f"{field}: expected {what} from {lo} to {hi}, got {shown(value)}")
    return value


def int_text(text: Any, field: str, *, lo: int = 0, hi: int = MAX_INT64, what: str = "an integer") -> int:
    """A decimal integer given as text (CLI flags, URI arguments): ASCII digits only; no sign, space, '_' or exponent."""
    if isinstance(text, int) and not isinstance(text, bool):
        return as_int(text, field, lo=lo, hi=hi, what=what)
    if not isinstance(text, str) or not _DECIMAL_RE.fullmatch(text):
        raise ConfigError(f"{field}: expected {what} from {lo} to {hi} written in decimal digits, got {shown(text)}")
    return as_int(int(text), field, lo=lo, hi=hi, what=what)


def as_height(value: Any, field: str, *, lo: int = 0) -> int:
    return as_int(value, field, lo=lo, hi=MAX_INT64, what="a block height")


def as_number(value: Any, field: str, *, lo: float = 0.0, hi: float, unit: str = "") -> float:
    """A finite JSON/YAML number in [lo, hi] (ints are kept as ints)."""
    what = f"a number{f' of {unit}' if unit else ''} from {lo:g} to {hi:g}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{field}: expected {what}, got {shown(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{field}: expected {what} (finite), got {shown(value)}")
    if not lo <= value <= hi:
        raise ConfigError(f"{field}: expected {what}, got {shown(value)}")
    return value


def number_text(text: Any, field: str, *, lo: float = 0.0, hi: float, unit: str = "") -> float:
    """A finite number given as text (CLI flags): refuses nan, inf and 1e400."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        return float(as_number(text, field, lo=lo, hi=hi, unit=unit))
    try:
        value = float(text) if isinstance(text, str) and len(text) <= 64 else None
    except ValueError:
        value = None
    if value is None or not math.isfinite(value) or not lo <= value <= hi:
        what = f"a finite number{f' of {unit}' if unit else ''} from {lo:g} to {hi:g}"
        raise ConfigError(f"{field}: expected {what}, got {shown(text)}")
    return value


def as_unix_ms(value: Any, field: str) -> int:
    """Epoch milliseconds: an integer (or a finite float, truncated) from 0 to the end of year 9999."""
    if isinstance(value, float) and math.isfinite(value) and 0 <= value <= MAX_UNIX_MS:
        return int(value)
    return as_int(value, field, lo=0, hi=MAX_UNIX_MS, what="epoch milliseconds")


def as_port(value: Any, field: str, *, allow_zero: bool = False) -> int:
    lo = 0 if allow_zero else 1
    what = "a TCP port (0 = allocate a free one)" if allow_zero else "a TCP port"
    return as_int(value, field, lo=lo, hi=65535, what=what)


def port_text(text: Any, field: str, *, allow_zero: bool = False) -> int:
    lo = 0 if allow_zero else 1
    what = "a TCP port (0 = allocate a free one)" if allow_zero else "a TCP port"
    return int_text(text, field, lo=lo, hi=65535, what=what)


def as_text(
    value: Any, field: str, *, max_len: int, min_len: int = 1, pattern: re.Pattern[str] | None = None, form: str = ""
) -> str:
    """A string of min_len..max_len characters; with `pattern`, it must match it whole (`form` describes it)."""
    accepted = form or f"a string of {min_len} to {max_len} characters"
    if not isinstance(value, str):
        raise ConfigError(f"{field}: expected {accepted}, got {shown(value)}")
    if not min_len <= len(value) <= max_len:
        raise ConfigError(f"{field}: expected {accepted} ({min_len} to {max_len} characters), got {shown(value)}")
    if pattern is not None and not pattern.fullmatch(value):
        raise ConfigError(f"{field}: expected {accepted}, got {shown(value)}")
    return value


def http_url(
    text: Any, field: str, *, schemes: tuple[str, ...] = ("http", "https"), example: str = "http://127.0.0.1:26657"
) -> str:
    """An absolute http(s) URL with a host: no userinfo, no spaces or control characters, port 1..65535 when given.
    Returns it without a trailing '/'."""
    form = f"{' or '.join(s + '://' for s in schemes)}HOST[:PORT] such as {example}"
    if not isinstance(text, str) or not text or len(text) > MAX_URL_LEN or _CONTROL_RE.search(text):
        raise ConfigError(f"{field}: expected {form}, got {shown(text)}")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as e:  # 'http://[::1' or a port out of range
        raise ConfigError(f"{field}: {shown(text)} is not a valid URL ({e}); expected {form}") from None
    if parts.scheme not in schemes or not parts.hostname:
        raise ConfigError(f"{field}: expected {form}, got {shown(text)}")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise ConfigError(f"{field}: {shown(text)} carries user info ('...@'); expected {form}")
    if port == 0:
        raise ConfigError(f"{field}: port 0 in {shown(text)}; expected {form}")
    return text.rstrip("/")


def arg_type(check: Any, **kwargs: Any) -> Any:
    """An argparse `type=` from a checker of text (int_text, number_text, port_text...): a refusal becomes argparse's
    own error ('argument --at: expected ...', exit 2), with our message instead of 'invalid int value'."""
    import argparse

    def convert(text: str) -> Any:
        try:
            return check(text, "value", **kwargs)
        except ConfigError as e:
            raise argparse.ArgumentTypeError(str(e).removeprefix("value: ")) from None

    convert.__name__ = getattr(check, "__name__", "value")
    return convert


MAX_JSON_DEPTH = 32


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def json_value(data: bytes | str, field: str = "body", *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse JSON from a peer: valid UTF-8, no NaN/Infinity, no number out of float range or of more than 4300 digits,
    nested at most max_depth deep. ConfigError naming the field otherwise."""
    try:
        doc = json.loads(data, parse_float=_finite_float, parse_constant=_no_constant)
    except RecursionError:
        raise ConfigError(f"{field}: JSON nested deeper than {max_depth} levels") from None
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError, the two hooks, int digits
        raise ConfigError(f"{field}: not valid JSON ({shown(str(e), 160)}); send one JSON document") from None
    stack = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else None
        if children is None:
            continue
        if depth > max_depth:
            raise ConfigError(f"{field}: JSON nested deeper than {max_depth} levels")
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return doc
