"""The CometBFT 0.38 event query language (`libs/pubsub/query`): conditions joined by AND; operators `=`, `<`,
`<=`, `>`, `>=`, `CONTAINS`, `EXISTS`; operands 'strings' (no escapes), unsigned numbers, `DATE yyyy-mm-dd` and
`TIME <RFC 3339>`. Two ways to match, as in CometBFT:

- subscriptions (`Query.matches`): each condition against any value of its composite key (`type.key`) in the
  flattened event map; numbers compare numerically (a value like `100ngonka` counts as 100);
- the tx and block indexers (`Condition.matches_indexed`): `=` compares the text, ranges compare numbers or times;
  `search.py` requires every attribute condition to hold within one event.

    q = parse_query("tm.event='Tx' AND message.module='inference'")
    q.matches({"tm.event": ["Tx"], "message.module": ["inference"]})  -> True
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

MAX_QUERY_BYTES = 512
_LEADING_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_GO_INT = re.compile(r"[+-]?\d+")
OPS = ("=", "<", "<=", ">", ">=", "CONTAINS", "EXISTS")


class QueryParseError(ValueError):
    pass


@dataclass(frozen=True)
class Condition:
    tag: str
    op: str  # = < <= > >= CONTAINS EXISTS
    arg_type: str = ""  # string, number, date, time ("" for EXISTS)
    arg: str = ""

    def canonical(self) -> str:
        if self.op == "EXISTS":
            return f"{self.tag} EXISTS"
        shown = {"string": f"'{self.arg}'", "date": f"DATE {self.arg}", "time": f"TIME {self.arg}"}.get(self.arg_type, self.arg)
        return f"{self.tag} {self.op} {shown}"

    def match_value(self, value: str) -> bool:
        """The pubsub rule for one attribute value."""
        if self.op == "EXISTS":
            return True
        if self.op == "CONTAINS":
            return self.arg in value
        if self.arg_type == "string":
            return value == self.arg
        if self.arg_type == "number":
            got = _number(value)
            return got is not None and _compare(got, self.op, Decimal(self.arg))
        got_t = _date(value) if self.arg_type == "date" else _time(value)
        want = _date(self.arg) if self.arg_type == "date" else _time(self.arg)
        return got_t is not None and want is not None and _compare(got_t, self.op, want)

    def matches_indexed(self, value: str) -> bool:
        """The kv indexer's rule: `=` is text equality, ranges compare numbers (or times), as CometBFT indexes text."""
        if self.op == "=":
            return value == self.arg
        return self.match_value(value)

    def matches(self, events: dict[str, list[str]]) -> bool:
        """Against a flattened event map: the values of the composite key; a tag naming an event type matches ''."""
        for key, values in events.items():
            if key == self.tag and any(self.match_value(v) for v in values):
                return True
            if "." in key and key.rsplit(".", 1)[0] == self.tag and self.match_value(""):
                return True
        return False


def _compare(a: object, op: str, b: object) -> bool:
    return {"=": a == b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}.get(op, False)  # type: ignore[operator]


def _number(text: str) -> Decimal | None:
    """CometBFT's parseNumber: an integer, else the leading decimal number of the text (`100ngonka` -> 100)."""
    if _GO_INT.fullmatch(text) and len(text) <= 100:
        return Decimal(int(text))
    m = _LEADING_NUMBER.match(text)
    if not m or len(m.group()) > 100:
        return None
    try:
        return Decimal(m.group())
    except InvalidOperation:
        return None


def _date(text: str) -> datetime | None:
    try:
        if len(text) != 10:
            return None
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None


def _time(text: str) -> datetime | None:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})", text):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass(frozen=True)
class Query:
    text: str
    conditions: tuple[Condition, ...]

    @property
    def canonical(self) -> str:
        return " AND ".join(c.canonical() for c in self.conditions)

    def matches(self, events: dict[str, list[str]]) -> bool:
        return bool(events) and all(c.matches(events) for c in self.conditions)

    def values(self, tag: str, op: str = "=") -> list[str]:
        return [c.arg for c in self.conditions if c.tag == tag and c.op == op]


# -- scanner ------------------------------------------------------------------------------------
def _is_tag_start(ch: str) -> bool:
    return ch == "_" or ch.isalpha() or ch.isdigit()


def _is_tag_rune(ch: str) -> bool:
    return ch in "._-" or ch.isalpha() or ch.isdigit()


def _scan(text: str, pos: int) -> tuple[str, str, int, int]:
    """The next token at or after pos: (kind, text, start, end); kind "" at the end of input."""
    n = len(text)
    while pos < n and text[pos].isspace():
        pos += 1
    if pos >= n:
        return "", "", pos, pos
    ch, start = text[pos], pos
    if ch.isdigit() and ch.isascii():
        end = pos + 1
        while end < n and text[end].isdigit() and text[end].isascii():
            end += 1
        if end < n and text[end] == ".":
            end += 1
            while end < n and text[end].isdigit() and text[end].isascii():
                end += 1
        return "number", text[start:end], start, end
    if _is_tag_start(ch):
        end = pos + 1
        while end < n and _is_tag_rune(text[end]):
            end += 1
        word = text[start:end]
        if word in ("TIME", "DATE") and end < n and text[end] == " ":
            return _scan_stamp(text, word, end + 1)
        kind = {"AND": "AND", "EXISTS": "EXISTS", "CONTAINS": "CONTAINS"}.get(word, "tag")
        return kind, word, start, end
    if ch == "'":
        end = text.find("'", pos + 1)
        if end < 0:
            raise QueryParseError(f"offset {start}: unterminated string")
        return "string", text[pos + 1 : end], start, end + 1
    if ch in "<>=":
        end = pos + 2 if ch != "=" and pos + 1 < n and text[pos + 1] == "=" else pos + 1
        return "op", text[start:end], start, end
    raise QueryParseError(f"invalid input {ch} at offset {pos + 1}")


def _scan_stamp(text: str, word: str, pos: int) -> tuple[str, str, int, int]:
    allowed = "0123456789-T:+Z." if word == "TIME" else "0123456789-"
    end = pos
    while end < len(text) and text[end] in allowed:
        end += 1
    value = text[pos:end]
    parsed = _time(value) if word == "TIME" else _date(value)
    if parsed is None:
        raise QueryParseError(f"offset {pos}: invalid {word} value {value!r}")
    if not 1900 <= parsed.year <= 2999:
        raise QueryParseError(f"offset {pos}: {'timestamp' if word == 'TIME' else 'datestamp'} year {parsed.year} out of range")
    return word.lower(), value, pos, end


# -- parser ---------------------------------------------------------------------------------------
_ARG_KINDS = {
    "<": ("number", "time", "date"),
    "<=": ("number", "time", "date"),
    ">": ("number", "time", "date"),
    ">=": ("number", "time", "date"),
    "=": ("number", "time", "date", "string"),
    "CONTAINS": ("string",),
}


def parse_query(text: str) -> Query:
    """Parse as CometBFT does; QueryParseError with the offset and what was expected on bad syntax."""
    if not isinstance(text, str):
        raise QueryParseError(f"query must be a string, got {type(text).__name__}")
    conds: list[Condition] = []
    pos = 0
    while True:
        kind, word, start, pos = _scan(text, pos)
        if kind != "tag":
            got = "end of query" if not kind else f"{word!r}"
            raise QueryParseError(f"offset {start}: got {got}, wanted a tag such as tm.event")
        tag = word
        kind, op, start, pos = _scan(text, pos)
        if kind not in ("op", "EXISTS", "CONTAINS"):
            got = "end of query" if not kind else f"{op!r}"
            raise QueryParseError(f"offset {start}: got {got}, wanted one of {', '.join(OPS)}")
        if kind == "EXISTS":
            conds.append(Condition(tag, "EXISTS"))
        else:
            kind, arg, start, pos = _scan(text, pos)
            if kind not in _ARG_KINDS[op]:
                got = "end of query" if not kind else f"{arg!r}"
                raise QueryParseError(
                    f"offset {start}: got {got}, wanted {' or '.join(_ARG_KINDS[op])} (strings are 'single-quoted')"
                )
            conds.append(Condition(tag, op, kind, arg))
        kind, word, start, pos = _scan(text, pos)
        if not kind:
            return Query(text, tuple(conds))
        if kind != "AND":
            raise QueryParseError(f"offset {start}: got {word!r}, wanted AND operator")
