"""simnet's tx and block indexers (`tx_search`, `block_search`, `tx`), with CometBFT 0.38 kv-indexer semantics:

- a condition on `tx.hash` looks that one tx up (the other conditions are ignored, as CometBFT does);
- `tx.height` / `block.height` conditions filter heights (`=` and ranges);
- every other condition is an event attribute (`type.key`) and all of them must hold within one event of the tx
  (or of the block's FinalizeBlock events); `tm.event` is not an indexed attribute, so it matches nothing here;
- `=` compares the attribute's text, ranges compare numbers or times; only attributes with `index: true` count.
"""

from __future__ import annotations

import binascii
from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from harness.model.simnet.query import Condition, Query
from harness.model.simnet.store import Event

TX_HASH, TX_HEIGHT, BLOCK_HEIGHT = "tx.hash", "tx.height", "block.height"


class SearchError(Exception):
    """An error tx_search/block_search returns (-32603 with this text)."""


@dataclass
class IndexedTx:
    height: int
    index: int
    raw: bytes
    result: object  # txs.TxResult
    hash: bytes


def _height_ok(conds: list[Condition], height: int) -> bool:
    for c in conds:
        if c.op == "EXISTS":
            continue
        if c.op == "CONTAINS":
            if c.arg not in str(height):
                return False
            continue
        try:
            bound = Decimal(c.arg)
        except InvalidOperation:
            return False
        if not {"=": height == bound, "<": height < bound, "<=": height <= bound, ">": height > bound, ">=": height >= bound}[
            c.op
        ]:
            return False
    return True


def _event_matches(conds: list[Condition], events: list[Event]) -> bool:
    """All conditions hold within one event (CometBFT 0.38 indexes attributes per event)."""
    for e in events:
        if not e.type:
            continue
        if all(any(f"{e.type}.{k}" == c.tag and c.matches_indexed(v) for k, v in e.attributes if k) for c in conds):
            return True
    return False


def split_conditions(q: Query, height_tag: str) -> tuple[list[Condition], list[Condition]]:
    heights = [c for c in q.conditions if c.tag == height_tag]
    return heights, [c for c in q.conditions if c.tag != height_tag]


class TxIndex:
    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.by_hash: OrderedDict[bytes, IndexedTx] = OrderedDict()
        self.by_height: OrderedDict[int, list[IndexedTx]] = OrderedDict()

    def add(self, it: IndexedTx) -> None:
        old = self.by_hash.get(it.hash)
        if old is not None and getattr(it.result, "code", 0) != 0 and getattr(old.result, "code", 0) == 0:
            return  # a failed re-run never hides the earlier successful one
        self.by_hash[it.hash] = it
        self.by_height.setdefault(it.height, []).append(it)
        while len(self.by_hash) > self.keep:
            _, dropped = self.by_hash.popitem(last=False)
            rows = self.by_height.get(dropped.height, [])
            if dropped in rows:
                rows.remove(dropped)
            if not rows:
                self.by_height.pop(dropped.height, None)

    def get(self, h: bytes) -> IndexedTx | None:
        return self.by_hash.get(h)

    def search(self, q: Query) -> list[IndexedTx]:
        for c in q.conditions:
            if c.tag == TX_HASH:
                try:
                    h = binascii.unhexlify(c.arg)
                except (binascii.Error, ValueError) as e:
                    raise SearchError(f"error during searching for a hash in the query: encoding/hex: {e}") from None
                it = self.by_hash.get(h)
                return [it] if it is not None else []
        heights, attrs = split_conditions(q, TX_HEIGHT)
        out = []
        for height, rows in self.by_height.items():
            if not _height_ok(heights, height):
                continue
            out.extend(it for it in rows if not attrs or _event_matches(attrs, getattr(it.result, "events", [])))
        return out


class BlockIndex:
    """Heights and FinalizeBlock events of the blocks kept."""

    def __init__(self) -> None:
        self.events: OrderedDict[int, list[Event]] = OrderedDict()

    def add(self, height: int, events: list[Event], keep: int) -> None:
        self.events[height] = events
        while len(self.events) > keep:
            self.events.popitem(last=False)

    def search(self, q: Query) -> list[int]:
        heights, attrs = split_conditions(q, BLOCK_HEIGHT)
        return [h for h, ev in self.events.items() if _height_ok(heights, h) and (not attrs or _event_matches(attrs, ev))]


def page_bounds(total: int, page: int | None, per_page: int | None) -> tuple[int, int]:
    """(skip, count) after CometBFT's paging rules: per_page 30 by default, capped at 100; page within [1, pages]."""
    per = 30 if per_page is None or per_page < 1 else min(per_page, 100)
    if page is None:
        return 0, min(per, total)
    pages = max(1, (total - 1) // per + 1) if total > 0 else 1
    if page < 1 or page > pages:
        raise SearchError(f"page should be within [1, {pages}] range, given {page}")
    skip = (page - 1) * per
    return skip, min(per, total - skip)
