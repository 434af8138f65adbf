"""Book <-> plain JSON-serialisable dict, for recovery from a changelog table.

Holds every resting order in priority order (with its arrival number), the sequence
counters and the breaker state, so restore-then-continue emits exactly what an
uninterrupted book would have.
"""
from __future__ import annotations

from engine.book import Book
from engine.enums import Side
from engine.spec import SymbolSpec

VERSION = 1


def to_dict(book: Book, copy: bool = True) -> dict:
    """copy=False shares the book's own order records: for encoding at once, before the
    book changes them."""
    # [remaining, order_id, account, price, filled, arrival, side, ts] each; side is a
    # StrEnum, so an encoding holds its name
    orders = []
    for side in (Side.BUY, Side.SELL):
        orders.extend(map(list, book.orders(side)) if copy else book.orders(side))
    return {
        "version": VERSION,
        "spec": book.spec.to_dict(),
        "seq": book.seq,
        "trade_seq": book.trade_seq,
        "breaker": book.breaker.to_dict(),
        "orders": orders,
    }


def from_dict(data: dict, emit_levels: bool = False, wide: bool = False) -> Book:
    if data.get("version") != VERSION:
        raise ValueError(f"expected snapshot version {VERSION}, got {data.get('version')!r}")
    book = Book(SymbolSpec.from_dict(data["spec"]), emit_levels=emit_levels, wide=wide)
    book.seq = data["seq"]
    book.trade_seq = data["trade_seq"]
    book.breaker.load(data["breaker"])
    if book.breaker.halted_until is not None:
        book._halt_end = book.breaker.halted_until
    for rem, oid, account, price, filled, arrival, side, ts in data["orders"]:
        side = Side(side)
        own = book.bids if side is Side.BUY else book.asks
        level = own.levels.get(price)
        if level is None:
            level = own.add_level(price)
        order = [rem, oid, account, price, filled, arrival, side, ts]
        level.orders.append(order)
        level.qty += rem
        level.count += 1
        book.index[oid] = order
    return book
