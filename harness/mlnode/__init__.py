"""MLNode mocks: WireMock mappings generator, WireMock/nginx runners, journal reader (see harness/mlnode/README.md).

Names are imported on first use: the run options need only `lifecycle.py`, not the runners and their dependencies.
"""

from __future__ import annotations

from harness.util.lazy import lazy_exports

_WHERE = {
    "Journal": "journal",
    "JournalError": "journal",
    "NginxSideBySide": "nginx",
    "WireMockServer": "wiremock",
    "find_java": "wiremock",
    "find_nginx": "nginx",
    "start_many": "wiremock",
    "stop_many": "wiremock",
    "wiremock_jar": "wiremock",
    "write_mappings": "mappings",
}

__all__ = sorted(_WHERE)
__getattr__ = lazy_exports(__name__, _WHERE, globals())
