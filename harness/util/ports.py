"""Port allocation. Ports are always allocated, never fixed, so runs are parallel-safe (pytest -n)."""

from __future__ import annotations

import collections
import socket
import threading

from harness.errors import ConfigError

LOOPBACK = "127.0.0.1"


_HANDED_OUT: collections.deque[int] = collections.deque(maxlen=512)  # this process's recent free_port() answers
_HANDED_LOCK = threading.Lock()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read it, release it), and not one this
    process handed out recently: the kernel may answer the same port to two back-to-back calls when nothing bound the
    first yet (a testnet allocating its chain's and its chaos proxy's ports up front saw simnet's port taken)."""
    with _HANDED_LOCK:
        for _ in range(64):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind((LOOPBACK, 0))
                port = s.getsockname()[1]
            if port not in _HANDED_OUT:
                break
        _HANDED_OUT.append(port)
        return port


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
