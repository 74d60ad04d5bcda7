"""The contract every service of the harness follows (WireMock, nginx, simnet, API node, chaos proxy, relays,
testnets): `start() -> self` (ready when it returns), idempotent `stop()`, and a context manager that stops what
a failed start left behind."""

from __future__ import annotations

from typing import Self


class StartStop:
    """Mixin: `with service:` starts it, stops it at the end, and stops it when start() itself fails."""

    def start(self) -> Self:  # pragma: no cover - overridden
        raise NotImplementedError

    def stop(self) -> object:  # pragma: no cover - overridden
        raise NotImplementedError

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()
