"""Reading WireMock's request journal over its admin API (the truth about what an MLNode received).

    j = Journal(wm.admin_url)
    j.requests(since_ms=t_switch_ms)      # raw journal entries, oldest first
    j.unmatched()                         # requests no mapping matched (answered 404)
    j.count("POST", "/v0.3.8/api/v1/stop")
    j.dump(path)                          # raw `GET /__admin/requests` body: the audit CLI's input format
    j.reset()                             # between tests: journal and scenarios
    j.add_mappings(version_stubs("v0.3.9"))   # deploy a version at run time; j.reset_mappings() undoes it
    j.remove_mapping(stub_id); j.count_matching({"urlPathPattern": ...}); j.find({...})

WireMock's `GET /__admin/requests` has no offset, only `limit` (newest N) and `since` (ISO time, strictly
after), so "all pages" is one unlimited GET; `since_ms` is sent as `since` and also applied here
(inclusive, on `request.loggedDate`) so records logged in the same millisecond are not lost. The
runner leaves the journal unbounded, so the GET returns everything WireMock saw.

Not python-wiremock's admin client (`wiremock.resources.requests.Requests`): its `Config` is a process-wide
singleton (one `base_url`, while the harness reads several mocks at once, from several threads), its
`get_all_received_requests` mutates a shared default `parameters` dict (a `limit` given once sticks to every later
call), and it parses the whole body into models with no size bound. The package still provides the WireMock jar
(harness.mlnode.wiremock).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import requests

from harness.errors import ConfigError, Unreachable
from harness.validate import as_unix_ms, shown

TIMEOUT_S = 30.0
MAX_JOURNAL_BYTES = 256 << 20  # the same limit `harness audit --journal` applies to saved journals


def iso_ms(ms: int) -> str:
    """Epoch milliseconds -> the ISO-8601 form WireMock's `since` accepts (`2026-11-28T19:25:56.387Z`)."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


class JournalError(Unreachable):
    """WireMock's admin API answered an error status, or a body that is not a journal (exit code 3: the mock, a
    dependency of the command, does not answer as it should)."""

    def __init__(self, what: str, status: int, body: str) -> None:
        self.what, self.status = what, status
        super().__init__(f"WireMock admin {what} answered {status}: {shown(body, 300)}")


class Journal:
    """Admin-API client for one WireMock instance (admin_url = http://127.0.0.1:PORT/__admin)."""

    def __init__(self, admin_url: str, *, timeout_s: float = TIMEOUT_S, max_bytes: int = MAX_JOURNAL_BYTES) -> None:
        self.admin_url = admin_url.rstrip("/")
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes
        self.session = requests.Session()

    def _get_json(self, path: str, params: dict | None = None) -> dict:
        """GET a JSON object, reading at most max_bytes of body (a runaway journal is refused, not loaded)."""
        url = f"{self.admin_url}{path}"
        with self.session.get(url, params=params, timeout=self.timeout_s, stream=True) as r:
            body = bytearray()
            for chunk in r.iter_content(1 << 20):
                body += chunk
                if len(body) > self.max_bytes:
                    raise ConfigError(f"GET {url}: the journal is larger than {self.max_bytes} bytes, the audit's input "
                                      "limit; reset it (DELETE /__admin/requests) or audit a shorter run")  # fmt: skip
            if r.status_code != 200:
                raise JournalError(f"GET {url}", r.status_code, body.decode(errors="replace"))
        try:
            doc = json.loads(body)
        except (ValueError, RecursionError) as e:
            raise JournalError(f"GET {url}", 200, f"body is not JSON ({shown(str(e))}): {shown(bytes(body[:200]))}") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("requests", []), list):
            raise JournalError(f"GET {url}", 200, f'expected {{"requests": [...]}}, got {shown(doc)}')
        return doc

    def raw(self, since_ms: int | None = None) -> dict:
        """The `GET /__admin/requests` JSON body (newest first, as WireMock returns it)."""
        params = {"since": iso_ms(since_ms - 1)} if since_ms is not None and since_ms > 0 else None
        return self._get_json("/requests", params)

    def requests(self, since_ms: int | None = None) -> list[dict]:
        """Every journal entry (`{"id", "request": {...}, "responseDefinition", "wasMatched", ...}`), oldest first."""
        entries = [
            (self._logged(e.get("request") if isinstance(e, dict) else None), e) for e in self.raw(since_ms).get("requests", [])
        ]
        if since_ms is not None:
            entries = [(t, e) for t, e in entries if t >= since_ms]
        return [e for _, e in sorted(entries, key=lambda p: p[0])]

    def unmatched(self) -> list[dict]:
        """Logged requests no mapping matched (`GET /__admin/requests/unmatched`), oldest first."""
        entries = self._get_json("/requests/unmatched").get("requests", [])
        return sorted(entries, key=self._logged)

    def _logged(self, request: object) -> int:
        value = request.get("loggedDate") if isinstance(request, dict) else None
        try:
            return as_unix_ms(value, "loggedDate")
        except ConfigError:
            raise JournalError(
                f"GET {self.admin_url}/requests", 200, f"an entry without a valid request.loggedDate: {shown(request)}"
            ) from None

    def count(self, method: str, url_path: str) -> int:
        r = self.session.post(
            f"{self.admin_url}/requests/count", json={"method": method.upper(), "urlPath": url_path}, timeout=self.timeout_s
        )
        if r.status_code != 200:
            raise JournalError(f"POST {self.admin_url}/requests/count", r.status_code, r.text)
        return int(r.json()["count"])

    def count_matching(self, pattern: dict) -> int:
        """How many journaled requests match a WireMock request pattern (`{"urlPathPattern": "/v0\\.3\\.9/.*"}`)."""
        r = self.session.post(f"{self.admin_url}/requests/count", json=pattern, timeout=self.timeout_s)
        if r.status_code != 200:
            raise JournalError(f"POST {self.admin_url}/requests/count", r.status_code, r.text)
        return int(r.json()["count"])

    def find(self, pattern: dict) -> list[dict]:
        """The journaled requests matching a WireMock request pattern (the logged requests themselves), oldest first."""
        r = self.session.post(f"{self.admin_url}/requests/find", json=pattern, timeout=self.timeout_s)
        if r.status_code != 200:
            raise JournalError(f"POST {self.admin_url}/requests/find", r.status_code, r.text)
        return sorted(r.json().get("requests", []), key=self._logged)

    def paths(self, since_ms: int | None = None) -> list[tuple[str, str]]:
        """(method, url) per request, oldest first: handy for assertions and messages."""
        return [(e["request"]["method"], e["request"]["url"]) for e in self.requests(since_ms)]

    def reset(self, *, scenarios: bool = True) -> None:
        """Clear the journal; with `scenarios`, also put every per-version state machine back to its initial state
        ("Started" = STOPPED). Only reset scenarios while no API node relies on the mocks' state."""
        steps = [("DELETE", "/requests")] + ([("POST", "/scenarios/reset")] if scenarios else [])
        for method, path in steps:
            r = self.session.request(method, f"{self.admin_url}{path}", timeout=self.timeout_s)
            if r.status_code not in (200, 204):
                raise JournalError(f"{method} {self.admin_url}{path}", r.status_code, r.text)

    def add_mappings(self, stubs: list[dict]) -> None:
        """Add stub mappings at run time (`POST /__admin/mappings/import`): e.g. `mappings.version_stubs("v0.3.9")`
        deploys that version on an MLNode mock that did not serve it. Undone by reset_mappings()."""
        body = {"mappings": stubs, "importOptions": {"duplicatePolicy": "OVERWRITE", "deleteAllNotInImport": False}}
        r = self.session.post(f"{self.admin_url}/mappings/import", json=body, timeout=self.timeout_s)
        if r.status_code not in (200, 201, 204):
            raise JournalError(f"POST {self.admin_url}/mappings/import", r.status_code, r.text)

    def remove_mapping(self, stub_id: str) -> bool:
        """Remove one stub mapping (`DELETE /__admin/mappings/{id}`); False when the mock has none with that id."""
        r = self.session.delete(f"{self.admin_url}/mappings/{stub_id}", timeout=self.timeout_s)
        if r.status_code == 404:
            return False
        if r.status_code not in (200, 204):
            raise JournalError(f"DELETE {self.admin_url}/mappings/{stub_id}", r.status_code, r.text)
        return True

    def reset_mappings(self) -> None:
        """Back to the mappings the mock started with (`POST /__admin/mappings/reset` reloads its mapping files)."""
        r = self.session.post(f"{self.admin_url}/mappings/reset", timeout=self.timeout_s)
        if r.status_code not in (200, 204):
            raise JournalError(f"POST {self.admin_url}/mappings/reset", r.status_code, r.text)

    def dump(self, path: Path | str, since_ms: int | None = None) -> Path:
        """Write the raw `GET /__admin/requests` body to `path` (the `harness audit --journal` format)."""
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(self.raw(since_ms)))
        return out

    def close(self) -> None:
        self.session.close()
