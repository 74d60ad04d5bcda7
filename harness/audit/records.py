"""Request records: one WireMock journal entry, normalized for the prefix audit. Pure functions, no I/O.

Input is the JSON body of WireMock's `GET /__admin/requests` (2.35 and 3.x have the same shape):
`{"requests": [{"id": .., "request": {"url", "method", "loggedDate" (ms), "loggedDateString", ...},
"wasMatched": bool, ...}], "meta": {"total": n}}`. Entries of `GET /__admin/requests/unmatched` (the logged
request itself, without the `request` wrapper) are accepted too, and so is a bare list of entries.

The version a request *used* (`version_seen`):
- single topology: the first path segment when it is a version (`/v0.3.9/api/v1/state` -> `v0.3.9`);
  the unversioned endpoint paths (`/api/v1/...`, `/health`, `/tokenize`, `/v1/chat/completions`, ...) give None
  (so the `v1` of `/v1/chat/completions` is never taken for a version);
- side-by-side topology (`served_by_version` given): nginx strips the prefix, so the version is the backend that
  served the request. When nginx forwards the original URI in an `X-Original-URI` header, that URI is used
  instead (it also reveals unversioned requests that nginx's `location /` sent to the current version).
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal, NamedTuple

from harness.errors import ConfigError
from harness.validate import MAX_UNIX_MS, as_unix_ms, shown
from harness.versions import version_in_path

PortClass = Literal["management", "inference"]

# Paths an MLNode serves without any version prefix. A path matching one of these is unversioned even though
# its first segment may look like a version (`/v1/chat/completions`).
_UNVERSIONED_RE = re.compile(
    r"^/(?:api/v1(?:/|$)|health/?$|tokenize/?$|v1/(?:chat/completions|completions|models|embeddings)/?$)"
)
_MANAGEMENT_RE = re.compile(r"^/api/v1(?:/|$)")
_METHOD_RE = re.compile(r"[A-Za-z]{1,16}")
MAX_URL_CHARS = 8192
MAX_ID_CHARS = 256
ORIGINAL_URI_HEADER = "x-original-uri"


class RequestRecord(NamedTuple):
    """One request an MLNode mock received. Immutable; a named tuple because an audit makes a million of them (a
    frozen dataclass costs five times as much to build). The fields are in the audit's canonical order (time, mock,
    node, journal id, method, url, ...), so comparing two records compares their sort keys (see sort_key)."""

    logged_ms: int
    mock_id: str
    node_id: str | None
    request_id: str  # WireMock's journal id (ties between equal timestamps are broken by it)
    method: str
    url: str  # path + query as received by the mock
    served_by_version: str | None  # side-by-side: the version of the backend that served it
    version_seen: str | None  # the prefix the request used (None: unversioned)
    matched: bool | None  # WireMock's wasMatched (an unmatched request is still judged by its prefix)
    port_class: PortClass
    path: str  # url without the query
    # the HTTP status the mock answered (journal `response.status`); 0: no HTTP answer (a WireMock fault such as a
    # connection reset); None: not in the journal (an unmatched-requests listing, a hand-built record)
    status: int | None = None

    @property
    def node_key(self) -> str:
        """The node this request belongs to, for the per-node stop rule: node_id, else the mock id."""
        return self.node_id if self.node_id is not None else self.mock_id

    @property
    def endpoint(self) -> str:
        """The path without its version prefix (`/v0.3.9/api/v1/stop` -> `/api/v1/stop`)."""
        return _endpoint(self.path)

    def sort_key(self) -> tuple[Any, ...]:
        """Total order over every field (None sorts before any string), for ties on time."""
        return (
            self.logged_ms,
            self.mock_id,
            self.node_id is not None,
            self.node_id or "",
            self.request_id,
            self.method,
            self.url,
            self.served_by_version is not None,
            self.served_by_version or "",
            self.version_seen is not None,
            self.version_seen or "",
            self.matched is None,
            bool(self.matched),
        )


def strip_version(path: str) -> tuple[str | None, str]:
    """Split a path into (version prefix or None, rest). Unversioned endpoint paths are never split."""
    if _UNVERSIONED_RE.match(path):
        return None, path
    version = version_in_path(path)
    if version is None:
        return None, path
    rest = path[len(version) + 1 :]
    return version, rest or "/"


def port_class_of(endpoint: str) -> PortClass:
    """`/api/v1/*` is the management (PoC) port; health, tokenize, chat and anything else the inference port."""
    return "management" if _MANAGEMENT_RE.match(endpoint) else "inference"


@lru_cache(maxsize=8192)
def _endpoint(path: str) -> str:
    return strip_version(path)[1]


@lru_cache(maxsize=8192)
def _classify(path: str) -> tuple[str | None, PortClass]:
    """(version prefix, port class) of a path; cached: a journal repeats a few dozen distinct paths."""
    version, endpoint = strip_version(path)
    return version, port_class_of(endpoint)


def record_from_url(
    url: str,
    *,
    logged_ms: int,
    mock_id: str,
    method: str = "GET",
    node_id: str | None = None,
    served_by_version: str | None = None,
    request_id: str = "",
    matched: bool | None = None,
    original_url: str | None = None,
    status: int | None = None,
) -> RequestRecord:
    """Build a record from a URL as a mock received it (also handy for hand-built journals in tests)."""
    path = (url.split("?", 1)[0] or "/") if "?" in url else url
    version, port_class = _classify(path)
    if served_by_version is not None:
        if original_url is not None:
            version = _classify(original_url.split("?", 1)[0] or "/")[0]
        else:
            version = served_by_version
    return RequestRecord(
        logged_ms=logged_ms,
        mock_id=mock_id,
        port_class=port_class,
        method=method.upper(),
        url=url,
        path=path,
        version_seen=version,
        node_id=node_id,
        served_by_version=served_by_version,
        request_id=request_id,
        matched=matched,
        status=status,
    )


def response_status(entry: Any) -> int | None:
    """The status a journal entry's mock answered: `response.status`, 0 for a WireMock fault (no HTTP answer), None
    when the entry has no response (or a malformed one)."""
    resp = entry.get("response") if type(entry) is dict else None
    if type(resp) is not dict:
        return None
    if resp.get("fault"):
        return 0
    status = resp.get("status")
    return status if type(status) is int and 0 <= status <= 999 else None


def _logged_ms(req: dict[str, Any], where: str) -> int:
    value = req.get("loggedDate")
    if value is not None:
        try:
            return as_unix_ms(value, "loggedDate")
        except ConfigError:
            raise ConfigError(
                f"{where}: request.loggedDate must be epoch milliseconds (a number from 0 to {MAX_UNIX_MS}), got {shown(value)}"
            ) from None
    text = req.get("loggedDateString")
    if text is None:
        raise ConfigError(f"{where}: request has neither loggedDate (ms) nor loggedDateString; is this a WireMock journal entry?")
    if not isinstance(text, str) or len(text) > 64:
        raise ConfigError(f"{where}: request.loggedDateString must be an ISO-8601 time, got {shown(text)}")
    try:
        ms = int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
    except (ValueError, OverflowError):
        raise ConfigError(f"{where}: request.loggedDateString {shown(text)} is not an ISO-8601 time") from None
    return as_unix_ms(ms, f"{where}: request.loggedDateString")


def _header(req: dict[str, Any], name: str) -> str | None:
    headers = req.get("headers")
    if not isinstance(headers, dict):
        return None
    for key, value in headers.items():
        if key.lower() == name:
            if isinstance(value, list):
                return str(value[0]) if value else None
            if isinstance(value, dict):  # 3.x may serialize a multi-valued header as {"values": [...]}
                values = value.get("values") or []
                return str(values[0]) if values else None
            return str(value)
    return None


def records_from_journal(
    journal: dict[str, Any] | list[Any],
    *,
    mock_id: str,
    node_id: str | None = None,
    served_by_version: str | None = None,
) -> list[RequestRecord]:
    """Normalize a WireMock journal body into records (journal order; the audit sorts). Malformed -> ConfigError."""
    if isinstance(journal, dict):
        if "requests" not in journal:
            raise ConfigError(
                f"journal of mock {mock_id!r}: no 'requests' key (got keys {sorted(journal)[:8]}); "
                "expected the JSON body of WireMock's GET /__admin/requests"
            )
        entries = journal["requests"]
    else:
        entries = journal
    if not isinstance(entries, list):
        raise ConfigError(f"journal of mock {mock_id!r}: 'requests' must be a list, got {type(entries).__name__}")
    return records_from_entries([(0, entries)], mock_id=mock_id, node_id=node_id, served_by_version=served_by_version)


def records_from_entries(
    batches: Iterable[tuple[int, list[Any]]],
    *,
    mock_id: str,
    node_id: str | None = None,
    served_by_version: str | None = None,
) -> list[RequestRecord]:
    """Records from batches of journal entries, each given as (index of its first entry, entries), e.g. streamed
    from a file by harness/audit/journal_file.py."""
    # A big journal makes 100k+ records: the cyclic GC would rescan them many times (about 40% of the time).
    # Records hold no cycles, so pause it for the loop.
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        return _records(batches, mock_id, node_id, served_by_version)
    finally:
        if paused:
            gc.enable()


_new_record = tuple.__new__  # _new_record(RequestRecord, (field, ...)): RequestRecord(...) without the argument parsing

_INTERNED_MAX = 100_000  # distinct URLs/methods shared between records (a journal repeats a few dozen paths)


def _records(
    batches: Iterable[tuple[int, list[Any]]], mock_id: str, node_id: str | None, served_by_version: str | None
) -> list[RequestRecord]:
    """Fast path for the usual WireMock entry whose URL and method were seen before (checked then); anything else,
    and the first sight of each URL and method, goes through _checked_record, which names what is wrong."""
    out: list[RequestRecord] = []
    append = out.append
    new_record = _new_record
    seen = _Seen({}, {})
    urls, methods = seen.urls, seen.methods
    max_ms, max_id = MAX_UNIX_MS, MAX_ID_CHARS
    for first, batch in batches:
        for i, entry in enumerate(batch, first):
            if served_by_version is None:
                try:
                    req = entry["request"]
                    url, path, version, port_class = urls[req["url"]]
                    method = methods[req["method"]]
                    logged = req["loggedDate"]
                    request_id = entry.get("id")
                    matched = entry.get("wasMatched")
                except (KeyError, TypeError, AttributeError):
                    pass
                else:
                    if (
                        type(logged) is int
                        and 0 <= logged <= max_ms
                        and type(request_id) is str
                        and 0 < len(request_id) <= max_id
                    ):
                        matched = matched if type(matched) is bool else None
                        status = response_status(entry)
                        fields = (logged, mock_id, node_id, request_id, method, url, None, version, matched, port_class, path,
                                  status)  # fmt: skip
                        append(new_record(RequestRecord, fields))
                        continue
            append(_checked_record(entry, i, mock_id, node_id, served_by_version, seen))
    return out


@dataclass
class _Seen:
    """URLs and methods already checked: repeated ones share their strings and their classification."""

    urls: dict[str, tuple[str, str, str | None, PortClass]]  # url -> (url, path, version, port class)
    methods: dict[str, str]  # as written -> upper case


def _checked_record(
    entry: Any, i: int, mock_id: str, node_id: str | None, served_by_version: str | None, seen: _Seen
) -> RequestRecord:
    """One entry, every field checked; ConfigError naming the entry and the field."""
    if type(entry) is not dict:
        raise _bad(mock_id, i, f"expected an object, got {type(entry).__name__}")
    req = entry.get("request")
    if req is None and "url" in entry:
        req = entry
    if type(req) is not dict:
        raise _bad(mock_id, i, "missing the 'request' object (url, method, loggedDate)")
    url, method = req.get("url"), req.get("method")
    known = seen.urls.get(url) if type(url) is str else None
    if known is None:
        known = _classify_url(url, mock_id, i)
        if len(seen.urls) < _INTERNED_MAX:
            seen.urls[known[0]] = known  # known[0] is url, checked to be a str
    m = seen.methods.get(method) if type(method) is str else None
    if m is None:
        if not isinstance(method, str) or not _METHOD_RE.fullmatch(method):
            raise _bad(mock_id, i, f"request.method must be an HTTP method name, got {shown(method)}")
        m = method.upper()
        if len(seen.methods) < 64:
            seen.methods[method] = m
    logged = req.get("loggedDate")
    if type(logged) is not int or not 0 <= logged <= MAX_UNIX_MS:
        logged = _logged_ms(req, f"journal of mock {mock_id!r}, requests[{i}]")
    matched = entry.get("wasMatched")
    matched = matched if type(matched) is bool else None
    request_id = entry.get("id") or req.get("id") or ""
    if type(request_id) is not str or len(request_id) > MAX_ID_CHARS:
        request_id = _request_id(request_id, mock_id, i)
    status = response_status(entry)
    if served_by_version is None:
        return RequestRecord(logged, mock_id, node_id, request_id, m, known[0], None, known[2], matched, known[3], known[1],
                             status)  # fmt: skip
    return record_from_url(
        known[0],
        logged_ms=logged,
        mock_id=mock_id,
        method=m,
        node_id=node_id,
        served_by_version=served_by_version,
        request_id=request_id,
        matched=matched,
        original_url=_header(req, ORIGINAL_URI_HEADER),
        status=status,
    )


def _classify_url(url: Any, mock_id: str, i: int) -> tuple[str, str, str | None, PortClass]:
    if type(url) is not str or not url.startswith("/") or len(url) > MAX_URL_CHARS:
        raise _bad(mock_id, i, f"request.url must be a path starting with '/' (at most {MAX_URL_CHARS} chars), got {shown(url)}")
    path = (url.split("?", 1)[0] or "/") if "?" in url else url
    return (url, path, *_classify(path))


def _request_id(value: Any, mock_id: str, i: int) -> str:
    if type(value) is int and -(2**63) <= value < 2**63:
        return str(value)
    raise _bad(mock_id, i, f"id must be a string of at most {MAX_ID_CHARS} characters, got {shown(value)}")


def _bad(mock_id: str, i: int, problem: str) -> ConfigError:
    return ConfigError(f"journal of mock {mock_id!r}, requests[{i}]: {problem}")
