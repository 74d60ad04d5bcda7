"""MLNode mocks: WireMock mappings generator, WireMock/nginx runners, journal reader (see harness/mlnode/README.md).

Names are imported on first use: the run options need only `lifecycle.py`, not the runners and their dependencies.
"""

from __future__ import annotations

import importlib
from typing import Any

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


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'harness.mlnode' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"harness.mlnode.{module}"), name)
    globals()[name] = value
    return value
