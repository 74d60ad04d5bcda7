"""Port allocation. Ports are always allocated, never fixed, so runs are parallel-safe (pytest -n)."""

from __future__ import annotations

import os
import random
import socket
import threading
from dataclasses import dataclass

from harness.errors import ConfigError
from harness.validate import as_port

LOOPBACK = "127.0.0.1"


EPHEMERAL_RANGE_FILE = "/proc/sys/net/ipv4/ip_local_port_range"
FIRST_PORT = 10_000  # the allocated range starts here and ends below the kernel's ephemeral range


@dataclass
class _Allocator:
    """Hands out ports from a range the kernel never picks by itself, one slice of it per xdist worker, in turn.

    A port from bind(0) lies in the kernel's ephemeral range, and between its release and its owner's bind (a child
    process starting: up to a second on a loaded machine) any outgoing connection or other process binding port 0 may
    be given it: simnet's port, allocated up front, was once taken that way. Outside that range only an allocator
    picks ports; each xdist worker has its own slice (PYTEST_XDIST_WORKER / _COUNT), and within a slice a cursor
    from a per-process random start never repeats a port until the slice is used up."""

    lo: int = 0
    hi: int = 0  # exclusive; lo == hi: no such range on this machine, fall back to bind(0)
    cursor: int = 0

    @classmethod
    def for_this_process(cls) -> _Allocator:
        lo, hi = FIRST_PORT, _ephemeral_low()
        count = max(1, _int_env("PYTEST_XDIST_WORKER_COUNT", 1))
        worker = _int_env("PYTEST_XDIST_WORKER", 0, strip="gw") % count
        size = (hi - lo) // count
        if size < 256:
            return cls()
        lo += worker * size
        return cls(lo, lo + size, random.randrange(size))

    def next(self) -> int:
        if self.hi == self.lo:
            return _kernel_port()
        size = self.hi - self.lo
        for _ in range(min(size, 4096)):
            port = self.lo + self.cursor % size
            self.cursor += 1
            if _bindable(port):
                return port
        return _kernel_port()


def _ephemeral_low() -> int:
    try:
        with open(EPHEMERAL_RANGE_FILE) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return FIRST_PORT  # unknown: no range of our own


def _int_env(name: str, default: int, *, strip: str = "") -> int:
    try:
        return int(os.environ.get(name, "").removeprefix(strip))
    except ValueError:
        return default


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def _kernel_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


_ALLOCATOR: _Allocator | None = None  # made on first use; its cursor is guarded by _ALLOCATOR_LOCK
_ALLOCATOR_LOCK = threading.Lock()


def free_port() -> int:
    """A TCP port on 127.0.0.1, free at this moment, that no outgoing connection, no bind(0) and no other xdist worker
    of this run will be given before its owner binds it (see _Allocator)."""
    global _ALLOCATOR
    with _ALLOCATOR_LOCK:
        if _ALLOCATOR is None:
            _ALLOCATOR = _Allocator.for_this_process()
        return _ALLOCATOR.next()


def port_is_listening(port: int, host: str = LOOPBACK, timeout_s: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def ensure_port_free(port: int, *, field: str) -> None:
    """Raise ConfigError naming the field if the port is out of range or something already listens on 127.0.0.1:port."""

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
