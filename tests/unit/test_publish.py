"""What the matcher publishes (streams/publish.py), as a specification.

For a batch of commands the matcher hands each book's events to a BatchPublisher and
sends what `drain()` returns, as (topic, key, value, partition). Kafka partitions a topic
by its record's key, so the key decides what stays in order: every market-data record is
keyed by symbol, an order event by the order's account. `matcher-results` is keyed by
symbol too, and goes to the symbol's home partition, which never moves.

No Kafka here: a real book makes the events, and the records are read back as JSON.
"""

from __future__ import annotations

import msgspec

from engine.book import Book
from engine.commands import Cancel, NewOrder
from engine.enums import OrderType, Side, TimeInForce
from engine.events import Halted, Resumed
from engine.spec import SymbolSpec
from streams.publish import (
    BOOK,
    HALTS,
    ORDER_EVENTS,
    QUOTES,
    RESULTS,
    TRADES,
    BatchPublisher,
    records_for,
)

T0 = 1_700_000_000_000


def book(symbol: str = "ACME", **spec) -> Book:
    return Book(SymbolSpec(symbol, **spec), emit_levels=True)


def limit(order_id, account, side, quantity, price, symbol="ACME", ts=T0,
          tif=TimeInForce.GTC) -> NewOrder:
    return NewOrder(order_id, account, symbol, side, OrderType.LIMIT, tif, quantity, price, ts)


HOME = 2  # the home partition of the books below


def publish(*steps: tuple[Book, list]) -> list[tuple[str, str, dict]]:
    """One batch: each (book, commands) applied and added in turn, then drained; only
    `matcher-results` goes to a partition of its own choosing (HOME), the rest by key."""
    publisher = BatchPublisher()
    for b, commands in steps:
        for command in commands:
            events = b.apply(command)
            if events:
                publisher.add(b, events, HOME)
    drained = publisher.drain()
    assert {(topic, partition) for topic, _, _, partition in drained
            if partition is not None} <= {(RESULTS, HOME)}
    assert all(partition == HOME for topic, _, _, partition in drained if topic == RESULTS)
    return [(topic, key.decode(), msgspec.json.decode(value))
            for topic, key, value, _ in drained]


def on(records, topic: str) -> list[tuple[str, dict]]:
    return [(key, value) for t, key, value in records if t == topic]


def a_trade() -> list[tuple[str, str, dict]]:
    """alice rests 10 @ 100; bob buys 4 @ 101 and trades 4 @ 100 with her."""
    return publish((book(), [limit("s1", "alice", Side.SELL, 10, 100),
                             limit("b1", "bob", Side.BUY, 4, 101)]))


# --------------------------------------------------------------------- trades
def test_a_trade_is_published_on_trades_keyed_by_symbol_at_the_makers_price():
    ((key, trade),) = on(a_trade(), TRADES)
    assert key == "ACME"
    assert trade == {
        "trade_id": trade["trade_id"], "symbol": "ACME", "seq": trade["seq"], "price": 100,
        "quantity": 4, "buy_order_id": "b1", "sell_order_id": "s1", "buyer": "bob",
        "seller": "alice", "maker_order_id": "s1", "aggressor": "BUY", "ts": T0}


# --------------------------------------------------------------- order events
def test_fills_are_order_events_keyed_by_account_carrying_the_matchers_seq():
    records = a_trade()
    events = on(records, ORDER_EVENTS)
    assert [(key, e["order_id"], e["status"], e["filled_quantity"], e["remaining_quantity"])
            for key, e in events] == [("alice", "s1", "PARTIALLY_FILLED", 4, 6),
                                      ("bob", "b1", "FILLED", 4, 0)]
    ((_, trade),) = on(records, TRADES)
    # seq is the symbol's sequence: it orders an order's events after the trade that
    # caused them, whatever partition each went to
    assert trade["seq"] < events[0][1]["seq"] < events[1][1]["seq"]


def test_acceptance_is_not_published_by_the_matcher():
    """The gate told the owner ACCEPTED already; a resting order publishes no order event."""
    records = publish((book(), [limit("s1", "alice", Side.SELL, 10, 100)]))
    assert on(records, ORDER_EVENTS) == []
    assert on(records, TRADES) == []


def test_a_cancel_is_published_cancelled_with_its_reason_and_remaining_quantity():
    b = book()
    publish((b, [limit("s1", "alice", Side.SELL, 10, 100)]))
    records = publish((b, [Cancel("s1", "alice", "ACME", T0 + 1)]))
    ((key, event),) = on(records, ORDER_EVENTS)
    assert key == "alice"
    assert (event["status"], event["reason"], event["remaining_quantity"]) == (
        "CANCELLED", "USER", 10)


def test_a_refused_new_order_is_rejected_and_a_refused_cancel_is_cancel_rejected():
    """A refused cancel says nothing about the order: it is CANCEL_REJECTED, not REJECTED."""
    b = book(tick_size=5)
    publish((b, [limit("s1", "alice", Side.SELL, 10, 100)]))
    records = publish((b, [limit("b1", "bob", Side.BUY, 1, 101),   # off tick
                           Cancel("s1", "bob", "ACME", T0)]))      # not bob's
    assert [(key, e["order_id"], e["status"], e["reason"])
            for key, e in on(records, ORDER_EVENTS)] == [
        ("bob", "b1", "REJECTED", "OFF_TICK"), ("bob", "s1", "CANCEL_REJECTED", "NOT_OWNER")]


# ---------------------------------------------------------------------- halts
def test_a_halt_and_its_end_are_published_on_halts_keyed_by_symbol():
    halted = Halted("ACME", 7, T0, 100, 120, T0 + 60_000)
    resumed = Resumed("ACME", 8, T0 + 60_000)
    assert [(topic, msgspec.to_builtins(record)) for topic, record
            in records_for([halted, resumed])] == [
        (HALTS, {"symbol": "ACME", "halted": True, "ts": T0, "until_ts": T0 + 60_000,
                 "reference_price": 100, "attempted_price": 120}),
        (HALTS, {"symbol": "ACME", "halted": False, "ts": T0 + 60_000, "until_ts": 0,
                 "reference_price": 0, "attempted_price": 0})]


def test_a_breaker_trip_publishes_the_halt_and_the_cancelled_remainder():
    b = book(reference_price=100)   # band 10%: 111 breaches
    records = publish((b, [limit("s1", "alice", Side.SELL, 5, 111),
                           limit("b1", "bob", Side.BUY, 5, 111)]))
    ((key, halt),) = on(records, HALTS)
    assert key == "ACME" and halt["halted"] and halt["attempted_price"] == 111
    assert on(records, TRADES) == []
    assert [(e["order_id"], e["status"], e["reason"]) for _, e in on(records, ORDER_EVENTS)] == [
        ("b1", "CANCELLED", "HALTED")]


# ------------------------------------------------------------ book and quotes
def test_book_levels_carry_absolute_values_and_only_the_last_of_a_batch_is_sent():
    records = publish((book(), [limit("s1", "alice", Side.SELL, 10, 100),
                                limit("s2", "carol", Side.SELL, 5, 100),
                                limit("s3", "carol", Side.SELL, 2, 102),
                                Cancel("s3", "carol", "ACME", T0)]))
    levels = on(records, BOOK)
    assert {key for key, _ in levels} == {"ACME"}
    assert [(lv["side"], lv["price"], lv["quantity"], lv["count"]) for _, lv in levels] == [
        ("SELL", 100, 15, 2),    # two orders, one record
        ("SELL", 102, 0, 0)]     # count 0: the level is gone


def test_one_quote_per_symbol_per_batch_with_the_top_of_book_after_the_batch():
    records = a_trade()
    ((key, quote),) = on(records, QUOTES)
    assert key == "ACME"
    assert {k: quote[k] for k in ("bid", "bid_size", "ask", "ask_size", "last",
                                  "last_size")} == {
        "bid": None, "bid_size": 0, "ask": 100, "ask_size": 6, "last": 100, "last_size": 4}
    # the quote is as of the batch's last event
    assert quote["seq"] == max(e["seq"] for _, e in on(records, ORDER_EVENTS) + on(
        records, BOOK))


def test_a_quote_moved_only_by_the_book_keeps_the_batchs_last_trade():
    b = book()
    records = publish((b, [limit("s1", "alice", Side.SELL, 10, 100),
                           limit("b1", "bob", Side.BUY, 4, 100)]),
                      (b, [limit("b2", "bob", Side.BUY, 3, 99)]))
    ((_, quote),) = on(records, QUOTES)
    assert (quote["bid"], quote["bid_size"], quote["last"], quote["last_size"]) == (99, 3, 100, 4)


def test_no_quote_when_nothing_moved_the_book_or_traded():
    b = book(tick_size=5)
    records = publish((b, [limit("b1", "bob", Side.BUY, 1, 101)]))   # rejected
    assert on(records, QUOTES) == [] and on(records, BOOK) == []


def test_a_rebuilt_book_is_quoted_from_the_rebuilt_copy():
    publisher = BatchPublisher()
    first = book()
    publisher.add(first, first.apply(limit("s1", "alice", Side.SELL, 10, 100)), HOME)
    rebuilt = book()
    rebuilt.apply(limit("s1", "alice", Side.SELL, 7, 100))
    publisher.rebind(rebuilt)
    (quote,) = [msgspec.json.decode(v) for t, _, v, _ in publisher.drain() if t == QUOTES]
    assert (quote["ask"], quote["ask_size"]) == (100, 7)


# ------------------------------------------------------------ matcher-results
def test_matcher_results_hold_what_settlement_needs_one_record_per_symbol_per_batch():
    """Its trades, the releases of cancelled or rejected remainders (what the gate
    reserved for them goes back), its halts; in event order, keyed by symbol."""
    b = book(tick_size=5)
    records = publish((b, [limit("s1", "alice", Side.SELL, 10, 100),
                           limit("b1", "bob", Side.BUY, 4, 100),
                           limit("b2", "bob", Side.BUY, 1, 101),          # rejected
                           Cancel("s1", "alice", "ACME", T0),             # cancelled, 6
                           Cancel("s1", "bob", "ACME", T0)]))             # refused
    ((key, results),) = on(records, RESULTS)
    assert key == "ACME" and results["symbol"] == "ACME"
    assert results["trades"] == [trade for _, trade in on(records, TRADES)]
    assert [(e["order_id"], e["status"]) for e in results["releases"]] == [
        ("b2", "REJECTED"), ("s1", "CANCELLED")]
    assert results["halts"] == []


def test_no_matcher_results_when_nothing_is_to_settle():
    records = publish((book(), [limit("s1", "alice", Side.SELL, 10, 100)]))
    assert on(records, RESULTS) == []


def test_each_symbol_has_its_own_results_and_quote():
    acme, bolt = book("ACME"), book("BOLT")
    records = publish((acme, [limit("a1", "alice", Side.SELL, 1, 100),
                              limit("a2", "bob", Side.BUY, 1, 100)]),
                      (bolt, [limit("z1", "alice", Side.SELL, 2, 50, symbol="BOLT"),
                              limit("z2", "bob", Side.BUY, 2, 50, symbol="BOLT")]))
    assert [key for key, _ in on(records, RESULTS)] == ["ACME", "BOLT"]
    assert [key for key, _ in on(records, QUOTES)] == ["ACME", "BOLT"]
    assert [(key, t["symbol"]) for key, t in on(records, TRADES)] == [("ACME", "ACME"),
                                                                      ("BOLT", "BOLT")]


def test_each_symbol_s_results_go_to_its_home_partition_whatever_its_key():
    """Settlement and the candles read a symbol's results in order from one partition: the
    home's number, which stays when the topic grows (a key's partition would move)."""
    acme, bolt = book("ACME"), book("BOLT")
    publisher = BatchPublisher()
    publisher.add(acme, acme.apply(limit("a1", "alice", Side.SELL, 1, 100)), 5)
    publisher.add(acme, acme.apply(limit("a2", "bob", Side.BUY, 1, 100)), 5)
    publisher.add(bolt, bolt.apply(limit("z1", "alice", Side.SELL, 2, 50, symbol="BOLT")), 0)
    publisher.add(bolt, bolt.apply(limit("z2", "bob", Side.BUY, 2, 50, symbol="BOLT")), 0)
    drained = publisher.drain()
    assert [(key, partition) for topic, key, _, partition in drained if topic == RESULTS] \
        == [(b"ACME", 5), (b"BOLT", 0)]
    assert {partition for topic, _, _, partition in drained if topic != RESULTS} == {None}


# ------------------------------------------------------------------ the batch
def test_a_batch_sends_event_records_in_event_order_then_levels_quotes_and_results():
    topics = [topic for topic, _, _ in a_trade()]
    assert topics == [TRADES, ORDER_EVENTS, ORDER_EVENTS, BOOK, QUOTES, RESULTS]


def test_drain_empties_the_publisher_for_the_next_batch():
    publisher = BatchPublisher()
    b = book()
    publisher.add(b, b.apply(limit("s1", "alice", Side.SELL, 10, 100)), HOME)
    assert publisher.drain() != []
    assert publisher.drain() == []
