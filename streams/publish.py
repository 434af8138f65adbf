"""Engine events -> the records the matcher publishes, each with its topic and key.

Market data (trades, halts, book, quotes) and `matcher-results` are keyed by symbol, an
order event by the order's account. A symbol's `matcher-results` records go to its home
partition (the number of its `orders` partition), not where its key lands: settlement and
the candles read a symbol's results in order only from one partition, and a key's partition
moves when the topic grows. tests/unit/test_publish.py is the specification."""

from __future__ import annotations

from engine.enums import CommandKind
from engine.events import (
    Accepted,
    Cancelled,
    Filled,
    Halted,
    LevelChanged,
    PartiallyFilled,
    Rejected,
    Resumed,
    Trade,
)
from engine.status import CANCEL_REJECTED, EVENT_STATUS, RELEASING
from schemas.codec import encode
from schemas.records import Halt, MatcherResults, OrderEvent, Quote
from schemas.records import Trade as TradeRecord

TRADES, ORDER_EVENTS, HALTS, BOOK, QUOTES = "trades", "order-events", "halts", "book", "quotes"
RESULTS = "matcher-results"
Record = tuple[str, bytes, bytes, int | None]  # topic, key, value, partition (None: by key)
_UNPUBLISHED = (Accepted, LevelChanged)  # the gate publishes acceptance; levels: drain()


class BatchPublisher:
    """The records of a batch of commands, in the order to send them.

    Trades, order events and halts keep their event order. Book levels and quotes carry
    absolute values, so within a batch only the last value of each level and of each
    symbol's quote is sent: a consumer misses intermediate states of a few
    milliseconds, never the current one, and the topics carry far fewer records.
    Settlement and candles read one internal `matcher-results` record per symbol per
    batch instead: its trades, the releases of cancelled or rejected remainders, halts.
    """

    def __init__(self) -> None:
        self.records: list[Record] = []
        self._levels: dict[tuple, LevelChanged] = {}
        self._quotes: dict[str, tuple] = {}  # symbol -> (book, last event, last trade)
        self._results: dict[str, tuple[int, MatcherResults]] = {}  # symbol -> (home, ...)

    def _results_of(self, symbol: str, home: int) -> MatcherResults:
        found = self._results.get(symbol)
        if found is None:
            found = self._results[symbol] = (home, MatcherResults(symbol, [], [], []))
        return found[1]

    def add(self, book, events: list, home: int) -> None:
        """`events` of one command of `book`, whose symbol's home partition is `home`."""
        symbol = book.symbol
        results = self._results_of(symbol, home)
        records, levels = self.records, self._levels
        last_trade = None
        moved = False
        for ev in events:  # one pass: this runs for every command
            kind = type(ev)
            if kind is LevelChanged:
                levels[(ev.symbol, ev.side, ev.price)] = ev
                moved = True
                continue
            if kind is Accepted:  # the gate publishes acceptance
                continue
            topic, record = record_of(ev)
            if topic is ORDER_EVENTS:
                records.append((topic, record.account.encode(), encode(record), None))
                if record.status in RELEASING:
                    results.releases.append(record)
                continue
            records.append((topic, symbol.encode(), encode(record), None))
            if topic is TRADES:
                results.trades.append(record)
                last_trade = ev
            else:
                results.halts.append(record)
        if last_trade is not None or moved:
            known = self._quotes.get(symbol)
            if last_trade is None and known is not None:
                last_trade = known[2]
            self._quotes[symbol] = (book, events[-1], last_trade)

    def refused(self, symbol: str, events: list, home: int) -> None:
        """Rejections made without the symbol's book (engine.events.Rejected, seq 0): their
        order events, and the releases settlement reads (on the symbol's `home`)."""
        results = self._results_of(symbol, home)
        for ev in events:
            topic, record = record_of(ev)
            self.records.append((topic, record.account.encode(), encode(record), None))
            if record.status in RELEASING:
                results.releases.append(record)

    def rebind(self, book) -> None:
        """`book` replaces the copy of its symbol this batch holds (the matcher rebuilt it):
        the quote is read from the book when the batch is drained."""
        entry = self._quotes.get(book.symbol)
        if entry is not None:
            self._quotes[book.symbol] = (book, *entry[1:])

    def drain(self) -> list[Record]:
        """(topic, key, value, partition): partition None is the key's."""
        out = self.records
        out += [_level(ev) for ev in self._levels.values()]
        out += [_quote(*entry) for entry in self._quotes.values()]
        out += [(RESULTS, symbol.encode(), encode(r), home)
                for symbol, (home, r) in self._results.items()
                if r.trades or r.releases or r.halts]
        self.records, self._levels, self._quotes, self._results = [], {}, {}, {}
        return out


def _level(ev: LevelChanged) -> Record:
    return (BOOK, ev.symbol.encode(), encode(
        {"symbol": ev.symbol, "seq": ev.seq, "ts": ev.ts, "side": str(ev.side),
         "price": ev.price, "quantity": ev.quantity, "count": ev.count}), None)


def _quote(book, last_event, last_trade) -> Record:
    bid, bid_size, ask, ask_size = book.top()
    rec = Quote(symbol=book.symbol, seq=last_event.seq, ts=last_event.ts, bid=bid,
                bid_size=bid_size, ask=ask, ask_size=ask_size,
                last=last_trade.price if last_trade else None,
                last_size=last_trade.quantity if last_trade else 0)
    return (QUOTES, book.symbol.encode(), encode(rec), None)


def records_for(events: list) -> list[tuple[str, object]]:
    """(topic, record) of every trade, order event and halt, in event order."""
    return [record_of(ev) for ev in events if type(ev) not in _UNPUBLISHED]


def record_of(ev) -> tuple[str, object]:
    """The topic and record of a trade, order event or halt."""
    kind = type(ev)
    if kind is Trade:
        return (TRADES, TradeRecord(
            trade_id=ev.trade_id, symbol=ev.symbol, seq=ev.seq, price=ev.price,
            quantity=ev.quantity, buy_order_id=ev.buy_order_id,
            sell_order_id=ev.sell_order_id, buyer=ev.buyer, seller=ev.seller,
            maker_order_id=ev.maker_order_id, aggressor=str(ev.taker_side), ts=ev.ts))
    if kind is Filled or kind is PartiallyFilled:
        return _order_event(ev, EVENT_STATUS[kind], filled=ev.filled, remaining=ev.remaining)
    if kind is Cancelled:
        return _order_event(ev, EVENT_STATUS[kind], reason=str(ev.reason),
                            remaining=ev.remaining)
    if kind is Rejected:
        # a refused cancel says nothing about the order itself
        status = EVENT_STATUS[kind] if ev.command is CommandKind.NEW else CANCEL_REJECTED
        return _order_event(ev, status, reason=str(ev.reason))
    if kind is Halted:
        return (HALTS, Halt(symbol=ev.symbol, halted=True, ts=ev.ts,
                            until_ts=ev.halted_until, reference_price=ev.reference_price,
                            attempted_price=ev.attempted_price))
    if kind is Resumed:
        return (HALTS, Halt(symbol=ev.symbol, halted=False, ts=ev.ts))
    raise TypeError(f"no record for a {kind.__name__} event")


def _order_event(ev, status: str, reason: str | None = None, filled: int = 0,
                 remaining: int = 0) -> tuple[str, OrderEvent]:
    return (ORDER_EVENTS, OrderEvent(
        order_id=ev.order_id, account=ev.account, symbol=ev.symbol, status=status, ts=ev.ts,
        reason=reason, filled_quantity=filled, remaining_quantity=remaining, seq=ev.seq))
