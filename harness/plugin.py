"""pytest plugin (registered through the `pytest11` entry point): options, markers and fixtures only.
Engines are imported lazily inside fixtures; configuration is read in pytest_configure, never at import."""

from __future__ import annotations

import pytest

MARKERS = {
    "stable": "deterministic scenario that CI pipelines run (`pytest -m stable`)",
    "unstable": "scenario known to be flaky or environment-sensitive; excluded from CI by default",
    "chaos": "fault-injection scenario (chaos proxy between the API node and the chain)",
    "docker": "needs a running Docker engine; skipped with a reason when none is reachable",
    "slow": "takes more than ~10 s",
}


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
