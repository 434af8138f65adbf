"""Small builders for scenario tests."""
from __future__ import annotations

from engine.book import Book
from engine.commands import Cancel, NewOrder
from engine.enums import OrderType, Side, TimeInForce
from engine.spec import SymbolSpec

SYM = "ABC"
T0 = 1_700_000_000_000


def make_book(**spec) -> Book:
    return Book(SymbolSpec(SYM, **spec))


def limit(oid, account, side, qty, price, tif=TimeInForce.GTC, ts=T0, symbol=SYM):
    return NewOrder(oid, account, symbol, side, OrderType.LIMIT, tif, qty, price, ts)


def buy(oid, account, qty, price, tif=TimeInForce.GTC, ts=T0):
    return limit(oid, account, Side.BUY, qty, price, tif, ts)


def sell(oid, account, qty, price, tif=TimeInForce.GTC, ts=T0):
    return limit(oid, account, Side.SELL, qty, price, tif, ts)


def market(oid, account, side, qty, collar=None, tif=TimeInForce.IOC, ts=T0):
    return NewOrder(oid, account, SYM, side, OrderType.MARKET, tif, qty, collar, ts)


def cancel(oid, account, ts=T0):
    return Cancel(oid, account, SYM, ts)


def kinds(events):
    return [type(e).__name__ for e in events]


def apply_all(book, *cmds):
    out = []
    for c in cmds:
        out.extend(book.apply(c))
        book.check_invariants()
    return out


def resting(book):
    """{side: [(order_id, price, remaining)] in priority order}."""
    return {str(side): [(o[1], o[3], o[0]) for o in book.orders(side)]
            for side in (Side.BUY, Side.SELL)}
