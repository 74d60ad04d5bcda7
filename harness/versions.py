"""MLNode version strings: `vMAJOR.MINOR.PATCH` (e.g. v0.3.9). Parsed once, compared numerically."""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness.errors import ConfigError
from harness.validate import shown

# Exactly vMAJOR.MINOR.PATCH: ASCII digits, no leading zeros, at most 9 digits a number, nothing before or after
# (`\Z`, not `$`, which would let a trailing newline through).
VERSION_RE = re.compile(r"^v(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})\Z")
# A version as it appears as the first URL path segment (looser: any v<digits>... segment counts as "a version").
PREFIX_RE = re.compile(r"^/(v[0-9]+(?:\.[0-9]+)*)(?=/|\Z)")

DEFAULT_PATH = ("v0.3.8", "v0.3.9", "v0.3.10")


@dataclass(frozen=True, order=True)
class Version:
    major: int
    minor: int
    patch: int

    def __str__(self) -> str:
        return f"v{self.major}.{self.minor}.{self.patch}"


def is_version(text: object) -> bool:
    """Whether `text` is exactly a version (no surrounding space): the test for values that come from a chain or a
    peer, which are refused, never repaired."""
    return isinstance(text, str) and VERSION_RE.match(text) is not None


def parse_version(text: str, *, field: str = "version") -> Version:
    """Parse `vMAJOR.MINOR.PATCH` (a user's surrounding spaces are forgiven); raise ConfigError naming the field and
    the accepted form."""
    m = VERSION_RE.match(text.strip()) if isinstance(text, str) and len(text) <= 64 else None
    if not m:
        raise ConfigError(
            f"{field}: {shown(text)} is not a valid MLNode version; expected vMAJOR.MINOR.PATCH such as v0.3.9 "
            "(leading 'v', three numbers of at most 9 digits, no leading zeros)"
        )
    return Version(int(m[1]), int(m[2]), int(m[3]))


def check_version(text: str, *, field: str = "version") -> str:
    """Validate and return the canonical string form."""
    return str(parse_version(text, field=field))


def parse_version_list(text: str, *, field: str = "--versions") -> list[str]:
    items = [s.strip() for s in text.split(",") if s.strip()]
    if len(items) < 2:
        raise ConfigError(f"{field}: need at least two versions (start and one upgrade), got {text!r}; e.g. v0.3.8,v0.3.9")
    out = [check_version(s, field=field) for s in items]
    if len(set(out)) != len(out):
        raise ConfigError(f"{field}: versions must be distinct, got {text!r}")
    return out


def version_in_path(path: str) -> str | None:
    """The version prefix of a URL path (`/v0.3.9/api/v1/state` -> `v0.3.9`), or None when unversioned."""
    m = PREFIX_RE.match(path)
    return m[1] if m else None
