"""MLNode faults, with WireMock's own fault simulation: one version of an MLNode failing its requests for a while.

    fault = MLNodeFault("reset", "v0.3.8")                     # every /v0.3.8/... request: connection reset by peer
    fault = MLNodeFault("status", "v0.3.9", status=503)          # answered 503 {"detail": "fault injected ..."}
    fault = MLNodeFault("timeout", "v0.3.9", paths="chat", delay_ms=3000)   # hangs 3 s, then 504 (a proxy timeout)
    Journal(admin_url).add_mappings(fault.stubs())  ... Journal(admin_url).remove_mapping(fault.stub_id())

A fault is one stub at priority 0 (above every MLNode stub; WireMock 2.35 and 3.x): `"fault":
"CONNECTION_RESET_BY_PEER"`, a 5xx status, or `fixedDelayMilliseconds` then 504. `paths`: `all` of the version's
requests, only `chat` (`/v1/chat/completions`), or only `management` (`/api/v1/...`). harness/drive/mlnode_faults.py
puts them on every MLNode for the blocks around an upgrade height.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from harness.errors import ConfigError
from harness.mlnode.stubs import JSON, STUB_ID_NAMESPACE
from harness.versions import check_version

KINDS = ("reset", "status", "timeout")
PATHS = {"all": "(/.*)?", "chat": "/v1/chat/completions", "management": "/api/v1/.*"}
FAULT_PRIORITY = 0
MAX_DELAY_MS = 60_000


@dataclass(frozen=True)
class MLNodeFault:
    kind: str  # reset | status | timeout
    version: str  # the version whose requests fail
    paths: str = "all"  # all | chat | management
    status: int = 503  # kind "status": the 5xx answered
    delay_ms: int = 3000  # kind "timeout": how long a request hangs before the 504

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"MLNode fault kind: {self.kind!r} is not one of {', '.join(KINDS)}")
        check_version(self.version, field="MLNode fault version")
        if self.paths not in PATHS:
            raise ConfigError(f"MLNode fault paths: {self.paths!r} is not one of {', '.join(PATHS)}")
        if isinstance(self.status, bool) or not isinstance(self.status, int) or not 500 <= self.status <= 599:
            raise ConfigError(f"MLNode fault status: expected a 5xx status, got {self.status!r}")
        d = self.delay_ms
        if isinstance(d, bool) or not isinstance(d, int) or not 1 <= d <= MAX_DELAY_MS:
            raise ConfigError(f"MLNode fault delay_ms: expected 1 to {MAX_DELAY_MS} ms, got {d!r}")

    def describe(self) -> str:
        what = {"reset": "connection reset", "status": f"HTTP {self.status}", "timeout": f"{self.delay_ms} ms then 504"}
        return f"{self.version} {self.paths} requests: {what[self.kind]}"

    def pattern(self, *, own_wiremock: bool = False) -> str:
        """The version's requests: `/<version>...` on a shared WireMock, unprefixed on the version's own (behind nginx)."""
        rest = PATHS[self.paths]
        if own_wiremock:
            return "/.*" if self.paths == "all" else rest
        return f"/{re.escape(self.version)}{rest}"

    def stub_id(self, *, own_wiremock: bool = False) -> str:
        return str(uuid.uuid5(STUB_ID_NAMESPACE, f"fault {self.kind} {self.pattern(own_wiremock=own_wiremock)}"))

    def response(self) -> dict:
        if self.kind == "reset":
            return {"fault": "CONNECTION_RESET_BY_PEER"}
        if self.kind == "status":
            return {"status": self.status, "headers": dict(JSON), "jsonBody": {"detail": f"fault injected: HTTP {self.status}"}}
        return {"status": 504, "headers": dict(JSON), "fixedDelayMilliseconds": self.delay_ms,
                "jsonBody": {"detail": f"fault injected: no answer in {self.delay_ms} ms"}}  # fmt: skip

    def stubs(self, *, own_wiremock: bool = False) -> list[dict]:
        return [
            {
                "id": self.stub_id(own_wiremock=own_wiremock),
                "name": f"fault {self.kind} {self.version} {self.paths}",
                "priority": FAULT_PRIORITY,
                "request": {"method": "ANY", "urlPathPattern": self.pattern(own_wiremock=own_wiremock)},
                "response": self.response(),
            }
        ]
