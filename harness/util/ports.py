"""Port allocation. Ports are always allocated, never fixed, so runs are parallel-safe (pytest -n)."""

from __future__ import annotations

import socket

from harness.errors import ConfigError

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read it, release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def port_is_listening(port: int, host: str = LOOPBACK, timeout_s: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def ensure_port_free(port: int, *, field: str) -> None:
    """Raise ConfigError naming the field if the port is out of range or something already listens on 127.0.0.1:port."""
    from harness.validate import as_port

    if as_port(port, field, allow_zero=True) == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((LOOPBACK, port))
        except OSError as e:
            raise ConfigError(
                f"{field}: port {port} on {LOOPBACK} is already in use ({e.strerror}); "
                "pick another port or pass 0 to allocate a free one"
            ) from None
