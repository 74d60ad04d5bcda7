"""CometBFT event query language (subset enough for real subscribers): conditions joined by AND, operators
`=`, `<`, `<=`, `>`, `>=`, `CONTAINS`, `EXISTS`; operands 'strings', numbers, DATE yyyy-mm-dd, TIME rfc3339.

    q = parse_query("tm.event='Tx' AND message.module='inference'")
    q.matches({"tm.event": ["Tx"], "message.module": ["inference"]})  -> True
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_QUERY_BYTES = 512

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'[^']*')|(?P<op><=|>=|=|<|>)|(?P<kw>AND\b|CONTAINS\b|EXISTS\b|DATE\b|TIME\b)"
    r"|(?P<num>-?\d+(?:\.\d+)?(?![\w.\-/]))|(?P<tag>[A-Za-z_][\w.\-/]*)|(?P<time>\d{4}-\d{2}-\d{2}(?:T[\w:.+\-]+)?))"
)


class QueryParseError(ValueError):
    pass


@dataclass(frozen=True)
class Condition:
    tag: str
    op: str  # = < <= > >= CONTAINS EXISTS
    value: str | float | None = None

    def canonical(self) -> str:
        if self.op == "EXISTS":
            return f"{self.tag} EXISTS"
        v = f"'{self.value}'" if isinstance(self.value, str) else repr(self.value)
        return f"{self.tag} {self.op} {v}"

    def matches(self, events: dict[str, list[str]]) -> bool:
        values = events.get(self.tag)
        if values is None:
            return False
        if self.op == "EXISTS":
            return True
        if self.op == "CONTAINS":
            return any(str(self.value) in v for v in values)
        if isinstance(self.value, str):
            if self.op == "=":
                return self.value in values
            return any(_cmp(v, self.op, self.value) for v in values)
        for v in values:
            try:
                num = float(v)
            except ValueError:
                continue
            if _cmp(num, self.op, self.value):
                return True
        return False


def _cmp(a: object, op: str, b: object) -> bool:
    return {"=": a == b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]  # type: ignore[operator]


@dataclass(frozen=True)
class Query:
    text: str
    conditions: tuple[Condition, ...]

    @property
    def canonical(self) -> str:
        return " AND ".join(c.canonical() for c in self.conditions)

    def matches(self, events: dict[str, list[str]]) -> bool:
        return all(c.matches(events) for c in self.conditions)


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise QueryParseError(f"unexpected character {text[pos:].lstrip()[:1]!r} at offset {pos}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind), m.start(kind)))
        pos = m.end()
    return out


def parse_query(text: str) -> Query:
    """Parse a subscription query; QueryParseError with a position and the accepted form on bad syntax."""
    if not text.strip():
        raise QueryParseError("empty query; expected e.g. tm.event='NewBlock'")
    toks = _tokens(text)
    conds: list[Condition] = []
    i = 0
    while True:
        if i >= len(toks) or toks[i][0] != "tag":
            where = f"{toks[i][1]!r} at offset {toks[i][2]}" if i < len(toks) else "end of query"
            raise QueryParseError(f"expected a tag such as tm.event, got {where}")
        tag = toks[i][1]
        if i + 1 >= len(toks):
            raise QueryParseError(f"expected an operator after {tag!r}, got end of query")
        kind, op, off = toks[i + 1]
        if kind == "kw" and op == "EXISTS":
            conds.append(Condition(tag, "EXISTS"))
            i += 2
        elif kind == "op" or (kind == "kw" and op == "CONTAINS"):
            if i + 2 >= len(toks):
                raise QueryParseError(f"expected an operand after {tag} {op}, got end of query")
            vkind, vtext, voff = toks[i + 2]
            i += 3
            if vkind == "str":
                value: str | float = vtext[1:-1]
            elif vkind == "num" and op != "CONTAINS":
                value = float(vtext)
            elif vkind == "kw" and vtext in ("DATE", "TIME") and i < len(toks) and toks[i][0] in ("time", "num"):
                value = toks[i][1]
                i += 1
            else:
                raise QueryParseError(f"bad operand {vtext!r} at offset {voff}; strings must be 'single-quoted'")
            conds.append(Condition(tag, op, value))
        else:
            raise QueryParseError(f"expected an operator (=, <, <=, >, >=, CONTAINS, EXISTS) at offset {off}, got {op!r}")
        if i >= len(toks):
            break
        if toks[i] != ("kw", "AND", toks[i][2]):
            raise QueryParseError(f"expected AND at offset {toks[i][2]}, got {toks[i][1]!r}")
        i += 1
    return Query(text, tuple(conds))
