"""Engine events -> the records the matcher publishes, each with its topic and key."""

from __future__ import annotations

from engine.enums import CommandKind
from engine.events import (
    Cancelled,
    Filled,
    Halted,
    LevelChanged,
    PartiallyFilled,
    Rejected,
    Resumed,
    Trade,
)
from schemas.codec import encode
from schemas.records import Halt, OrderEvent, Quote
from schemas.records import Trade as TradeRecord

TRADES, ORDER_EVENTS, HALTS, BOOK, QUOTES = "trades", "order-events", "halts", "book", "quotes"


class BatchPublisher:
    """The records of a batch of commands, in the order to send them.

    Trades, order events and halts keep their event order. Book levels and quotes carry
    absolute values, so within a batch only the last value of each level and of each
    symbol's quote is sent: a consumer misses intermediate states of a few
    milliseconds, never the current one, and the topics carry far fewer records.
    """

    def __init__(self) -> None:
        self.records: list[tuple[str, bytes, bytes]] = []
        self._levels: dict[tuple, LevelChanged] = {}
        self._quotes: dict[str, tuple] = {}  # symbol -> (book, last event, last trade)

    def add(self, book, events: list) -> None:
        last_trade = None
        moved = False
        for ev in events:
            kind = type(ev)
            if kind is LevelChanged:
                self._levels[(ev.symbol, ev.side, ev.price)] = ev
                moved = True
            elif kind is Trade:
                last_trade = ev
        self.records += records_for(events)
        if last_trade is not None or moved:
            known = self._quotes.get(book.symbol)
            if last_trade is None and known is not None:
                last_trade = known[2]
            self._quotes[book.symbol] = (book, events[-1], last_trade)

    def rebind(self, book) -> None:
        """`book` replaces the copy of its symbol this batch holds (the matcher rebuilt it):
        the quote is read from the book when the batch is drained."""
        entry = self._quotes.get(book.symbol)
        if entry is not None:
            self._quotes[book.symbol] = (book, *entry[1:])

    def drain(self) -> list[tuple[str, bytes, bytes]]:
        out = self.records
        out += [_level(ev) for ev in self._levels.values()]
        out += [_quote(*entry) for entry in self._quotes.values()]
        self.records, self._levels, self._quotes = [], {}, {}
        return out


def _level(ev: LevelChanged) -> tuple[str, bytes, bytes]:
    return (BOOK, ev.symbol.encode(), encode(
        {"symbol": ev.symbol, "seq": ev.seq, "ts": ev.ts, "side": str(ev.side),
         "price": ev.price, "quantity": ev.quantity, "count": ev.count}))


def _quote(book, last_event, last_trade) -> tuple[str, bytes, bytes]:
    bid, bid_size, ask, ask_size = book.top()
    rec = Quote(symbol=book.symbol, seq=last_event.seq, ts=last_event.ts, bid=bid,
                bid_size=bid_size, ask=ask, ask_size=ask_size,
                last=last_trade.price if last_trade else None,
                last_size=last_trade.quantity if last_trade else 0)
    return (QUOTES, book.symbol.encode(), encode(rec))


def records_for(events: list) -> list[tuple[str, bytes, bytes]]:
    """(topic, key, value) of every trade, order event and halt, in event order."""
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
    return out


def _order_event(ev, status: str, reason: str | None = None, filled: int = 0,
                 remaining: int = 0) -> tuple[str, bytes, bytes]:
    rec = OrderEvent(order_id=ev.order_id, account=ev.account, symbol=ev.symbol, status=status,
                     ts=ev.ts, reason=reason, filled_quantity=filled,
                     remaining_quantity=remaining, seq=ev.seq)
    return (ORDER_EVENTS, ev.account.encode(), encode(rec))

