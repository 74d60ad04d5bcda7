"""Reading saved WireMock journals (`harness audit --journal FILE`) as a stream: one entry at a time, never the
whole file as one JSON tree, and never more than a byte budget.

    budget = ReadBudget(256 * 1024 * 1024)       # shared by every journal of one audit
    for first, entries in iter_journal_batches(path, budget):    # entries[k] is requests[first + k]
        ...

Accepted files (the shapes `records_from_journal` takes): the body of `GET /__admin/requests`
(`{"requests": [...], "meta": {...}}`, keys in any order) or a bare JSON list of entries. Everything else is refused
with a ConfigError that names the file, the place (line and column) and the problem: unreadable or not UTF-8, not
JSON, nested too deeply, one entry or one other value bigger than its limit, or more bytes than the budget allows
(the limit that keeps a huge file, /dev/zero or a FIFO from exhausting memory).
"""

from __future__ import annotations

import codecs
import json
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.validate import shown

DEFAULT_MAX_MB = 256
CHUNK_BYTES = 1 << 20
MAX_ENTRY_CHARS = 16 << 20  # one journal entry (a request with its body and the response definition)
MAX_OTHER_CHARS = 1 << 20  # any top-level value other than "requests" ("meta")
_WS = re.compile(r"[ \t\n\r]*").match
# the C scanner: one value at a position, no whole-document checks (typeshed does not declare JSONDecoder.scan_once,
# which JSONDecoder.__init__ sets)
_SCAN: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
_DECODER = json.JSONDecoder()


class ReadBudget:
    """Bytes the audit may still read, across all its journal files."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.used = 0

    def take(self, n: int, source: str) -> None:
        self.used += n
        if self.used > self.max_bytes:
            raise ConfigError(
                f"{source}: the journals exceed the audit's input limit of {self.max_bytes // (1 << 20)} MiB "
                f"(read {self.used} bytes so far); audit fewer or smaller journals, or raise --max-journal-mb "
                "if this input is genuine"
            )


class _Stream:
    """A text buffer over a binary file: refilled in chunks, consumed prefix dropped, positions kept for messages."""

    def __init__(self, f: Any, source: str, budget: ReadBudget) -> None:
        self.f, self.source, self.budget = f, source, budget
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.dropped_lines = 0  # newlines in the text dropped so far
        self.dropped_col = 0  # characters after the last dropped newline

    def fill(self) -> bool:
        """Read one more chunk; False at end of file."""
        if self.eof:
            return False
        raw = self.f.read(CHUNK_BYTES)
        self.budget.take(len(raw), self.source)
        try:
            text = self.decoder.decode(raw, final=not raw)
        except UnicodeDecodeError as e:
            raise ConfigError(f"{self.source}: not UTF-8 text ({e.reason} near {self.where(len(self.buf))}); "
                              "expected the JSON body of WireMock's GET /__admin/requests") from None  # fmt: skip
        if not raw:
            self.eof = True
        if self.pos:
            done = self.buf[: self.pos]
            nl = done.count("\n")
            self.dropped_col = len(done) - done.rfind("\n") - 1 if nl else self.dropped_col + len(done)
            self.dropped_lines += nl
            self.buf = self.buf[self.pos :]
            self.pos = 0
        self.buf += text
        return bool(raw)

    def where(self, pos: int) -> str:
        before = self.buf[:pos]
        nl = before.count("\n")
        col = pos - before.rfind("\n") if nl else self.dropped_col + pos + 1
        return f"line {self.dropped_lines + nl + 1} column {col}"

    def error(self, problem: str, pos: int | None = None) -> ConfigError:
        return ConfigError(f"{self.source}: malformed JSON at {self.where(self.pos if pos is None else pos)}: {problem}")

    def skip_ws(self) -> str:
        """Skip whitespace; the next character, or '' at end of file."""
        while True:
            ws = _WS(self.buf, self.pos)
            assert ws is not None  # "[ \t\n\r]*" matches at every position
            self.pos = ws.end()
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self.fill():
                return ""

    def value(self, limit: int, what: str) -> Any:
        """Decode the JSON value at pos (refilling until it is complete) and move past it."""
        while True:
            try:
                obj, end = _SCAN(self.buf, self.pos)
            except (StopIteration, ValueError):  # no value here, or one cut by the end of the buffer: read more
                end = None
            except RecursionError:
                raise self.error(f"{what} is nested too deeply") from None
            if end is not None and (end < len(self.buf) or self.eof):
                self.pos = end
                return obj
            if len(self.buf) - self.pos > limit:
                raise self.error(f"{what} is larger than {limit // (1 << 20)} MiB (or malformed)")
            if not self.fill():
                raise self._why_not(what)

    def _why_not(self, what: str) -> ConfigError:
        try:
            _DECODER.raw_decode(self.buf, self.pos)
        except json.JSONDecodeError as e:
            return self.error(f"{e.msg} in {what}", e.pos)
        except ValueError:  # Python refuses to convert an integer of more than 4300 digits
            return self.error(f"a number of more than {sys.get_int_max_str_digits()} digits in {what}")
        except RecursionError:
            return self.error(f"{what} is nested too deeply")
        return self.error(f"{what} is incomplete")


def iter_journal_batches(path: Path, budget: ReadBudget) -> Iterator[tuple[int, list[Any]]]:
    """(index of the first, entries) for consecutive runs of a saved journal's entries, streamed (about a MiB of
    text each). Raises ConfigError on unreadable or bad input."""
    source = f"journal {path}"
    try:
        f = open(path, "rb")  # closed in the finally below, also when the caller stops early
    except OSError as e:
        raise ConfigError(f"{source}: cannot read it ({e.strerror or e}); check the path") from None
    try:
        s = _Stream(f, source, budget)
        try:
            s.fill()
        except OSError as e:
            raise ConfigError(f"{source}: cannot read it ({e.strerror or e}); check the path") from None
        first = s.skip_ws()
        if first == "[":
            s.pos += 1
            yield from _entries(s)
        elif first == "{":
            s.pos += 1
            yield from _object(s)
        else:
            raise s.error(
                f"expected the JSON body of WireMock's GET /__admin/requests ('{{' or '['), got {shown(first or 'end of file')}"
            )
        if s.skip_ws():
            raise s.error("extra data after the journal's JSON value")
    finally:
        f.close()


def _object(s: _Stream) -> Iterator[tuple[int, list[Any]]]:
    keys: list[str] = []
    c = s.skip_ws()
    if c == "}":
        s.pos += 1
    while c != "}":
        if c != '"':
            raise s.error("expected a key in double quotes")
        key = s.value(MAX_OTHER_CHARS, "a key")
        if s.skip_ws() != ":":
            raise s.error(f"expected ':' after the key {shown(key)}")
        s.pos += 1
        if key in keys:
            raise s.error(f"the key {shown(key)} appears twice")
        keys.append(key)
        if key == "requests" and s.skip_ws() == "[":
            s.pos += 1
            yield from _entries(s)
        elif key == "requests":
            value = s.value(MAX_OTHER_CHARS, "'requests'")
            raise ConfigError(f"{s.source}: 'requests' must be a list, got {type(value).__name__}")
        else:
            s.skip_ws()
            s.value(MAX_OTHER_CHARS, f"the value of {shown(key)}")
        c = s.skip_ws()
        if c not in (",", "}"):
            raise s.error("expected ',' or '}' after a value")
        s.pos += 1
        if c == ",":
            c = s.skip_ws()
    if "requests" not in keys:
        raise ConfigError(
            f"{s.source}: no 'requests' key (got keys {keys[:8]}); expected the JSON body of WireMock's GET /__admin/requests"
        )


def _entries(s: _Stream) -> Iterator[tuple[int, list[Any]]]:
    """Batches of the elements of an array whose '[' was consumed. Fast path: the buffered text up to one of its
    last `},` is parsed by one C call as `[...]`; that succeeds only when the cut falls between two entries (a cut
    inside a string or a nested object leaves the text unbalanced), otherwise the next entry is decoded alone, which
    also reads more text."""
    if s.skip_ws() == "]":
        s.pos += 1
        return
    i = 0
    tried = -1  # the buffer length at the last failed bulk attempt: retry only once more text has been read
    while True:
        batch = _bulk(s) if len(s.buf) != tried else None
        if batch is not None:
            yield i, batch
            i += len(batch)
            s.skip_ws()
            continue
        tried = len(s.buf)
        if s.pos >= len(s.buf):
            s.skip_ws()
        yield i, [s.value(MAX_ENTRY_CHARS, f"requests[{i}]")]
        i += 1
        c = s.skip_ws()
        s.pos += 1
        if c == "]":
            return
        if c != ",":
            raise s.error("expected ',' or ']' after an entry", s.pos - 1)
        s.skip_ws()


def _bulk(s: _Stream, attempts: int = 4) -> list[Any] | None:
    """Every complete entry between pos and one of the last `},` of the buffer, parsed at once; None if no cut works."""
    end = len(s.buf)
    for _ in range(attempts):
        cut = s.buf.rfind("},", s.pos, end)
        if cut <= s.pos:
            return None
        try:
            batch: list[Any] = json.loads("[" + s.buf[s.pos : cut + 1] + "]")
        except (ValueError, RecursionError):
            end = cut
            continue
        s.pos = cut + 2
        return batch
    return None
