"""Reading WireMock's request journal over its admin API (the truth about what an MLNode received).

    j = Journal(wm.admin_url)
    j.requests(since_ms=t_switch_ms)      # raw journal entries, oldest first
    j.unmatched()                         # requests no mapping matched (answered 404)
    j.count("POST", "/v0.3.8/api/v1/stop")
    j.dump(path)                          # raw `GET /__admin/requests` body: the audit CLI's input format
    j.reset()                             # between tests: journal and scenarios

WireMock's `GET /__admin/requests` has no offset, only `limit` (newest N) and `since` (ISO time, strictly
after), so "all pages" is one unlimited GET; `since_ms` is sent as `since` and also applied here
(inclusive, on `request.loggedDate`) so records logged in the same millisecond are not lost. The
runner leaves the journal unbounded, so the GET returns everything WireMock saw.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import requests

from harness.errors import HarnessError

TIMEOUT_S = 30.0


def iso_ms(ms: int) -> str:
    """Epoch milliseconds -> the ISO-8601 form WireMock's `since` accepts (`2026-11-28T19:25:56.387Z`)."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


class JournalError(HarnessError):
    """WireMock's admin API answered an error status."""

    def __init__(self, what: str, status: int, body: str) -> None:
        self.what, self.status = what, status
        super().__init__(f"WireMock admin {what} answered {status}: {body[:300]!r}")


class Journal:
    """Admin-API client for one WireMock instance (admin_url = http://127.0.0.1:PORT/__admin)."""

    def __init__(self, admin_url: str, *, timeout_s: float = TIMEOUT_S) -> None:
        self.admin_url = admin_url.rstrip("/")
        self.timeout_s = timeout_s
        self.session = requests.Session()

    def _get(self, path: str, params: dict | None = None) -> requests.Response:
        r = self.session.get(f"{self.admin_url}{path}", params=params, timeout=self.timeout_s)
        if r.status_code != 200:
            raise JournalError(f"GET {self.admin_url}{path}", r.status_code, r.text)
        return r

    def raw(self, since_ms: int | None = None) -> dict:
        """The `GET /__admin/requests` JSON body (newest first, as WireMock returns it)."""
        params = {"since": iso_ms(since_ms - 1)} if since_ms is not None and since_ms > 0 else None
        return self._get("/requests", params).json()

    def requests(self, since_ms: int | None = None) -> list[dict]:
        """Every journal entry (`{"id", "request": {...}, "responseDefinition", "wasMatched", ...}`), oldest first."""
        entries = self.raw(since_ms).get("requests", [])
        if since_ms is not None:
            entries = [e for e in entries if int(e["request"]["loggedDate"]) >= since_ms]
        return sorted(entries, key=lambda e: int(e["request"]["loggedDate"]))

    def unmatched(self) -> list[dict]:
        """Logged requests no mapping matched (`GET /__admin/requests/unmatched`), oldest first."""
        body = self._get("/requests/unmatched").json()
        return sorted(body.get("requests", []), key=lambda r: int(r["loggedDate"]))

    def count(self, method: str, url_path: str) -> int:
        r = self.session.post(
            f"{self.admin_url}/requests/count", json={"method": method.upper(), "urlPath": url_path}, timeout=self.timeout_s
        )
        if r.status_code != 200:
            raise JournalError(f"POST {self.admin_url}/requests/count", r.status_code, r.text)
        return int(r.json()["count"])

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

    def dump(self, path: Path | str, since_ms: int | None = None) -> Path:
        """Write the raw `GET /__admin/requests` body to `path` (the `harness audit --journal` format)."""
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(self.raw(since_ms)))
        return out

    def close(self) -> None:
        self.session.close()
