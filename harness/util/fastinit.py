"""A faster constructor for frozen slots dataclasses built by the million (audit records and offenders).

A frozen dataclass's __init__ sets each field through object.__setattr__ (about 3 us for 13 fields); the function
made here sets the slots directly (about 1 us). Same signature (defaults included), same object, same equality.

    make_offender = fast_constructor(Offender)
    make_offender(verdict="stale", method="GET", ...)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def fast_constructor(cls: type[T]) -> Callable[..., T]:
    """A drop-in for `cls(...)`; falls back to `cls` itself when the class has a __post_init__, a default_factory or
    no __slots__ (the fast path would skip them)."""
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    slots = getattr(cls, "__slots__", ())
    if (
        hasattr(cls, "__post_init__")
        or tuple(f.name for f in fields) != tuple(slots)
        or any(f.default_factory is not dataclasses.MISSING or not f.init for f in fields)
    ):
        return cls
    params, body, env = [], [], {"_new": cls.__new__, "_cls": cls}
    for i, f in enumerate(fields):
        if f.default is dataclasses.MISSING:
            params.append(f.name)
        else:
            env[f"_d{i}"] = f.default
            params.append(f"{f.name}=_d{i}")
        env[f"_s{i}"] = getattr(cls, f.name).__set__
        body.append(f"    _s{i}(_r, {f.name})\n")
    src = f"def make({', '.join(params)}):\n    _r = _new(_cls)\n{''.join(body)}    return _r\n"
    namespace: dict[str, Any] = {}
    exec(src, env, namespace)  # the same technique dataclasses uses to build __init__
    make = namespace["make"]
    make.__name__ = make.__qualname__ = f"make_{cls.__name__}"
    make.__doc__ = f"{cls.__name__}(...) without the frozen __init__'s per-field object.__setattr__."
    return make
