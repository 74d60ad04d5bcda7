"""The shape of simnet's query routes and the SDK's pagination, shared by the query handlers (`queries.py`,
`queries_staking.py`, `services.py`) and the router that serves them (`abci.py`, which imports the handlers)."""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import TypeVar

import cosmpy.protos  # noqa: F401  (cosmos.* on sys.path)
from cosmos.base.query.v1beta1 import pagination_pb2
from google.protobuf.message import Message

from harness.model.simnet.errors import invalid_argument
from harness.model.simnet.store import Store

DEFAULT_PAGE_LIMIT = 100
T = TypeVar("T")

# path -> (request class, handler(request, store at the queried height) -> response)
Handler = Callable[[Message, Store], Message]
Routes = dict[str, tuple[type[Message], Handler]]


def paginate(items: Sequence[T], page: pagination_pb2.PageRequest) -> tuple[list[T], pagination_pb2.PageResponse]:
    """The SDK's offset/key pagination over an ordered list: limit 0 = 100; next_key is opaque (an index)."""
    if page.key and page.offset:
        raise invalid_argument("either offset or key is expected, got both")
    ordered = list(reversed(items)) if page.reverse else list(items)
    start = int(page.offset)
    if page.key:
        if len(page.key) != 8:
            raise invalid_argument(f"invalid pagination key {page.key.hex()}")
        start = struct.unpack(">Q", page.key)[0]
    limit = int(page.limit) or DEFAULT_PAGE_LIMIT
    chunk = ordered[start : start + limit]
    resp = pagination_pb2.PageResponse()
    if start + limit < len(ordered):
        resp.next_key = struct.pack(">Q", start + limit)
    if page.count_total and not page.key:
        resp.total = len(ordered)
    return chunk, resp
