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
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal

from harness.errors import ConfigError
from harness.versions import version_in_path

PortClass = Literal["management", "inference"]

# Paths an MLNode serves without any version prefix. A path matching one of these is unversioned even though
# its first segment may look like a version (`/v1/chat/completions`).
_UNVERSIONED_RE = re.compile(
    r"^/(?:api/v1(?:/|$)|health/?$|tokenize/?$|v1/(?:chat/completions|completions|models|embeddings)/?$)"
)
_MANAGEMENT_RE = re.compile(r"^/api/v1(?:/|$)")
ORIGINAL_URI_HEADER = "x-original-uri"


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request an MLNode mock received."""

    logged_ms: int
    mock_id: str
    port_class: PortClass
    method: str
    url: str  # path + query as received by the mock
    path: str  # url without the query
    version_seen: str | None  # the prefix the request used (None: unversioned)
    node_id: str | None = None
    served_by_version: str | None = None  # side-by-side: the version of the backend that served it
    request_id: str = ""  # WireMock's journal id (ties between equal timestamps are broken by it)
    matched: bool | None = None  # WireMock's wasMatched (an unmatched request is still judged by its prefix)

    @property
    def node_key(self) -> str:
        """The node this request belongs to, for the per-node stop rule: node_id, else the mock id."""
        return self.node_id if self.node_id is not None else self.mock_id

    @property
    def endpoint(self) -> str:
        """The path without its version prefix (`/v0.3.9/api/v1/stop` -> `/api/v1/stop`)."""
        return strip_version(self.path)[1]

    def sort_key(self) -> tuple:
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
    )


def _logged_ms(req: dict[str, Any], where: str) -> int:
    value = req.get("loggedDate")
    if value is not None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: request.loggedDate must be epoch milliseconds (a number), got {value!r}")
        return int(value)
    text = req.get("loggedDateString")
    if text is None:
        raise ConfigError(f"{where}: request has neither loggedDate (ms) nor loggedDateString; is this a WireMock journal entry?")
    try:
        return int(datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        raise ConfigError(f"{where}: request.loggedDateString {text!r} is not an ISO-8601 time") from None


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
    journal: dict | list,
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
    # A big journal makes 100k+ objects while the parsed JSON is alive: the cyclic GC would rescan it many times
    # (about 40% of the time). Records hold no cycles, so pause it for the loop.
    paused = len(entries) > 10_000 and gc.isenabled()
    if paused:
        gc.disable()
    try:
        return _records(entries, mock_id, node_id, served_by_version)
    finally:
        if paused:
            gc.enable()


def _records(entries: list, mock_id: str, node_id: str | None, served_by_version: str | None) -> list[RequestRecord]:
    out: list[RequestRecord] = []
    append = out.append
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise _bad(mock_id, i, f"expected an object, got {type(entry).__name__}")
        req = entry.get("request", entry if "url" in entry else None)
        if not isinstance(req, dict):
            raise _bad(mock_id, i, "missing the 'request' object (url, method, loggedDate)")
        url, method = req.get("url"), req.get("method")
        if not isinstance(url, str) or not url.startswith("/"):
            raise _bad(mock_id, i, f"request.url must be a path starting with '/', got {url!r}")
        if not isinstance(method, str) or not method:
            raise _bad(mock_id, i, f"request.method must be a non-empty string, got {method!r}")
        logged = req.get("loggedDate")
        if type(logged) is not int:  # fast path: WireMock writes integer ms
            logged = _logged_ms(req, f"journal of mock {mock_id!r}, requests[{i}]")
        matched = entry.get("wasMatched")
        request_id = entry.get("id") or req.get("id") or ""
        if served_by_version is None:
            path = (url.split("?", 1)[0] or "/") if "?" in url else url
            version, port_class = _classify(path)
            append(
                RequestRecord(
                    logged, mock_id, port_class, method.upper(), url, path, version, node_id, None,
                    request_id if type(request_id) is str else str(request_id),
                    matched if type(matched) is bool else None,
                )
            )  # fmt: skip
        else:
            append(
                record_from_url(
                    url,
                    logged_ms=logged,
                    mock_id=mock_id,
                    method=method,
                    node_id=node_id,
                    served_by_version=served_by_version,
                    request_id=str(request_id),
                    matched=matched if isinstance(matched, bool) else None,
                    original_url=_header(req, ORIGINAL_URI_HEADER),
                )
            )
    return out


def _bad(mock_id: str, i: int, problem: str) -> ConfigError:
    return ConfigError(f"journal of mock {mock_id!r}, requests[{i}]: {problem}")
