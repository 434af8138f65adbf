"""Engine events -> the records the matcher publishes, each with its topic and key."""

from __future__ import annotations

from engine.enums import CommandKind
from engine.events import (Cancelled, Filled, Halted, LevelChanged, PartiallyFilled, Rejected,
                           Resumed, Trade)
from schemas.codec import encode
from schemas.records import Halt, OrderEvent, Quote
from schemas.records import Trade as TradeRecord

TRADES, ORDER_EVENTS, HALTS, BOOK, QUOTES = "trades", "order-events", "halts", "book", "quotes"


def quote_for(book, events: list) -> tuple[str, bytes, bytes] | None:
    """A new quote when the command traded or moved a level, else None."""
    last = None
    moved = False
    for ev in events:
        if type(ev) is Trade:
            last = ev
        elif type(ev) is LevelChanged:
            moved = True
    if last is None and not moved:
        return None
    bid, bid_size, ask, ask_size = book.top()
    rec = Quote(symbol=book.symbol, seq=events[-1].seq, ts=events[-1].ts, bid=bid,
                bid_size=bid_size, ask=ask, ask_size=ask_size,
                last=last.price if last else None, last_size=last.quantity if last else 0)
    return (QUOTES, book.symbol.encode(), encode(rec))


def records_for(events: list) -> list[tuple[str, bytes, bytes]]:
    """(topic, key, value) for every event worth publishing, in event order."""
    out = []
    for ev in events:
        kind = type(ev)
        if kind is Trade:
            rec = TradeRecord(trade_id=ev.trade_id, symbol=ev.symbol, seq=ev.seq, price=ev.price,
                              quantity=ev.quantity, buy_order_id=ev.buy_order_id,
                              sell_order_id=ev.sell_order_id, buyer=ev.buyer, seller=ev.seller,
                              maker_order_id=ev.maker_order_id, aggressor=str(ev.taker_side),
                              ts=ev.ts)
            out.append((TRADES, ev.symbol.encode(), encode(rec)))
        elif kind is Filled or kind is PartiallyFilled:
            status = "FILLED" if kind is Filled else "PARTIALLY_FILLED"
            out.append(_order_event(ev, status, filled=ev.filled, remaining=ev.remaining))
        elif kind is Cancelled:
            out.append(_order_event(ev, "CANCELLED", reason=str(ev.reason),
                                    remaining=ev.remaining))
        elif kind is Rejected:
            # a refused cancel says nothing about the order itself
            status = "REJECTED" if ev.command is CommandKind.NEW else "CANCEL_REJECTED"
            out.append(_order_event(ev, status, reason=str(ev.reason)))
        elif kind is Halted:
            rec = Halt(symbol=ev.symbol, halted=True, ts=ev.ts, until_ts=ev.halted_until,
                       reference_price=ev.reference_price, attempted_price=ev.attempted_price)
            out.append((HALTS, ev.symbol.encode(), encode(rec)))
        elif kind is Resumed:
            out.append((HALTS, ev.symbol.encode(), encode(Halt(symbol=ev.symbol, halted=False,
                                                               ts=ev.ts))))
        elif kind is LevelChanged:
            out.append((BOOK, ev.symbol.encode(), encode(
                {"symbol": ev.symbol, "seq": ev.seq, "ts": ev.ts, "side": str(ev.side),
                 "price": ev.price, "quantity": ev.quantity, "count": ev.count})))
    return out


def _order_event(ev, status: str, reason: str | None = None, filled: int = 0,
                 remaining: int = 0) -> tuple[str, bytes, bytes]:
    rec = OrderEvent(order_id=ev.order_id, account=ev.account, symbol=ev.symbol, status=status,
                     ts=ev.ts, reason=reason, filled_quantity=filled,
                     remaining_quantity=remaining, seq=ev.seq)
    return (ORDER_EVENTS, ev.account.encode(), encode(rec))

