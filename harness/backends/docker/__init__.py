"""The `docker` backend: the model chain, API node and MLNode mocks as containers (testcontainers), or the upstream
images (`--images upstream`); `images/` builds the local images with no registry.

    testnet.py     DockerTestnet, its capabilities
    components.py  one container per role; mocks.py the MLNode mocks; model.py, upstream.py the API node kinds
    session.py     labels, image choice, reaping; relay.py a split inference port; settings.py; util.py the engine

Names are imported on first use: `harness images build` and the docker checks need no testcontainers import.
"""

from __future__ import annotations

from harness.util.lazy import lazy_exports

_WHERE = {"DockerTestnet": "testnet", "LOCAL_CAPABILITIES": "testnet", "UPSTREAM_CAPABILITIES": "testnet"}

__all__ = sorted(_WHERE)
__getattr__ = lazy_exports(__name__, _WHERE, globals())
