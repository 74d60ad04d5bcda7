"""Package names imported on first use (PEP 562 `__getattr__`): a package that re-exports names from its modules
without loading them all when it is imported.

    _WHERE = {"ChainClient": "client", "Key": "keys"}
    __all__ = sorted(_WHERE)
    __getattr__ = lazy_exports(__name__, _WHERE, globals())
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any


def lazy_exports(package: str, where: Mapping[str, str], namespace: MutableMapping[str, Any]) -> Callable[[str], Any]:
    """The package's `__getattr__`: `name` comes from the module `package.<where[name]>`, imported on first use, and is
    kept in `namespace` (the package's globals()) so that later lookups never reach the hook again."""

    def getattr_(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        namespace[name] = value
        return value

    return getattr_
