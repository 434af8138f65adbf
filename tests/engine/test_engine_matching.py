"""Scenario tests: book before, command, events, book after."""
from __future__ import annotations

from engine_helpers import SYM, T0, apply_all, buy, kinds, make_book, market, resting, sell

from engine.enums import CancelReason, Side, TimeInForce
from engine.events import Accepted, Cancelled, Filled, PartiallyFilled, Trade

BUY, SELL = Side.BUY, Side.SELL


def test_non_crossing_orders_rest_and_show_in_top_and_depth():
    book = make_book()
    apply_all(book, buy("b1", "a", 10, 99), buy("b2", "b", 5, 99), buy("b3", "a", 7, 98),
              sell("s1", "c", 4, 101))
    assert book.top() == (99, 15, 101, 4)
    assert book.depth(1) == {"bids": [(99, 15, 2)], "asks": [(101, 4, 1)]}
    assert book.depth(5)["bids"] == [(99, 15, 2), (98, 7, 1)]
    assert len(book) == 4


def test_accepted_event_fields_and_seq_increase():
    book = make_book()
    (e,) = book.apply(buy("b1", "a", 10, 99, ts=T0 + 5))
    assert e == Accepted(SYM, 1, T0 + 5, "b1", "a", BUY, e.type, TimeInForce.GTC, 10, 99)
    (e2,) = book.apply(buy("b2", "a", 1, 98))
    assert e2.seq == 2


def test_price_time_priority_and_trade_at_maker_price():
    book = make_book()
    apply_all(book, sell("s1", "a", 5, 101), sell("s2", "b", 5, 100), sell("s3", "c", 5, 100))
    events = book.apply(buy("b1", "d", 12, 102))
    trades = [e for e in events if isinstance(e, Trade)]
    assert [(t.sell_order_id, t.price, t.quantity) for t in trades] == [
        ("s2", 100, 5), ("s3", 100, 5), ("s1", 101, 2)]
    t = trades[0]
    assert (t.trade_id, t.buy_order_id, t.buyer, t.seller, t.maker_order_id, t.taker_side) == (
        f"{SYM}-1", "b1", "d", "b", "s2", BUY)
    assert [t.trade_id for t in trades] == [f"{SYM}-1", f"{SYM}-2", f"{SYM}-3"]
    assert resting(book) == {"BUY": [], "SELL": [("s1", 101, 3)]}
    book.check_invariants()


def test_partial_fill_events_for_maker_and_taker():
    book = make_book()
    book.apply(sell("s1", "a", 10, 100))
    events = book.apply(buy("b1", "b", 4, 100))
    assert kinds(events) == ["Accepted", "Trade", "PartiallyFilled", "Filled"]
    assert events[2] == PartiallyFilled(SYM, 4, T0, "s1", "a", 4, 6)
    assert events[3] == Filled(SYM, 5, T0, "b1", "b", 4, 0)
    events = book.apply(buy("b2", "b", 10, 100))
    assert kinds(events) == ["Accepted", "Trade", "Filled", "PartiallyFilled"]
    assert events[2] == Filled(SYM, 8, T0, "s1", "a", 10, 0)
    assert resting(book) == {"BUY": [("b2", 100, 4)], "SELL": []}


def test_sell_taker_walks_bids_downwards():
    book = make_book()
    apply_all(book, buy("b1", "a", 5, 100), buy("b2", "a", 5, 99), buy("b3", "a", 5, 97))
    events = book.apply(sell("s1", "b", 8, 98))
    trades = [(e.buy_order_id, e.price, e.quantity) for e in events if isinstance(e, Trade)]
    assert trades == [("b1", 100, 5), ("b2", 99, 3)]
    assert resting(book)["BUY"] == [("b2", 99, 2), ("b3", 97, 5)]


def test_ioc_remainder_is_cancelled_not_rested():
    book = make_book()
    book.apply(sell("s1", "a", 3, 100))
    events = book.apply(buy("b1", "b", 5, 100, tif=TimeInForce.IOC))
    assert kinds(events) == ["Accepted", "Trade", "Filled", "PartiallyFilled", "Cancelled"]
    assert events[-1] == Cancelled(SYM, events[-1].seq, T0, "b1", "b",
                                   CancelReason.IOC_REMAINDER, 2)
    assert len(book) == 0


def test_ioc_that_does_not_cross_is_cancelled_whole():
    book = make_book()
    book.apply(sell("s1", "a", 3, 101))
    events = book.apply(buy("b1", "b", 5, 100, tif=TimeInForce.IOC))
    assert kinds(events) == ["Accepted", "Cancelled"]
    assert events[-1].remaining == 5
    assert resting(book) == {"BUY": [], "SELL": [("s1", 101, 3)]}


def test_fok_unfillable_cancels_with_no_trades_and_leaves_book():
    book = make_book()
    apply_all(book, sell("s1", "a", 3, 100), sell("s2", "a", 3, 101), sell("s3", "a", 9, 103))
    before = resting(book)
    events = book.apply(buy("b1", "b", 7, 101, tif=TimeInForce.FOK))
    assert kinds(events) == ["Accepted", "Cancelled"]
    assert events[1].reason is CancelReason.FOK_UNFILLABLE and events[1].remaining == 7
    assert resting(book) == before


def test_fok_fillable_fills_completely_across_levels():
    book = make_book()
    apply_all(book, sell("s1", "a", 3, 100), sell("s2", "a", 3, 101))
    events = book.apply(buy("b1", "b", 6, 101, tif=TimeInForce.FOK))
    assert kinds(events) == ["Accepted", "Trade", "Filled", "Trade", "Filled", "Filled"]
    assert len(book) == 0


def test_fok_ignores_own_liquidity_and_cancels_nothing_when_unfillable():
    book = make_book()
    apply_all(book, sell("s1", "b", 5, 100), sell("s2", "a", 3, 100))
    events = book.apply(buy("b1", "b", 4, 100, tif=TimeInForce.FOK))
    assert kinds(events) == ["Accepted", "Cancelled"]
    assert events[1].reason is CancelReason.FOK_UNFILLABLE
    assert len(book) == 2


def test_market_order_never_rests_no_liquidity():
    book = make_book()
    book.apply(sell("s1", "a", 2, 100))
    events = book.apply(market("m1", "b", BUY, 5, tif=TimeInForce.GTC))
    assert kinds(events) == ["Accepted", "Trade", "Filled", "PartiallyFilled", "Cancelled"]
    assert events[-1].reason is CancelReason.NO_LIQUIDITY and events[-1].remaining == 3
    assert len(book) == 0
    events = book.apply(market("m2", "b", SELL, 5))
    assert kinds(events) == ["Accepted", "Cancelled"]
    assert events[-1].reason is CancelReason.NO_LIQUIDITY


def test_market_buy_with_collar_never_trades_above_it():
    book = make_book()
    apply_all(book, sell("s1", "a", 2, 100), sell("s2", "a", 2, 105), sell("s3", "a", 2, 111))
    events = book.apply(market("m1", "b", BUY, 10, collar=110))
    assert [e.price for e in events if isinstance(e, Trade)] == [100, 105]
    assert events[-1].reason is CancelReason.PRICE_COLLAR and events[-1].remaining == 6
    assert resting(book)["SELL"] == [("s3", 111, 2)]


def test_market_sell_with_collar_never_trades_below_it():
    book = make_book()
    apply_all(book, buy("b1", "a", 2, 100), buy("b2", "a", 2, 90))
    events = book.apply(market("m1", "b", SELL, 3, collar=95))
    assert [e.price for e in events if isinstance(e, Trade)] == [100]
    assert events[-1].reason is CancelReason.PRICE_COLLAR


def test_market_fok_fills_or_cancels():
    book = make_book()
    book.apply(sell("s1", "a", 2, 100))
    events = book.apply(market("m1", "b", BUY, 3, tif=TimeInForce.FOK))
    assert kinds(events) == ["Accepted", "Cancelled"]
    assert events[-1].reason is CancelReason.FOK_UNFILLABLE
    events = book.apply(market("m2", "b", BUY, 2, tif=TimeInForce.FOK))
    assert kinds(events) == ["Accepted", "Trade", "Filled", "Filled"]


def test_self_trade_prevention_cancels_resting_and_continues():
    book = make_book()
    apply_all(book, sell("s1", "a", 5, 100), sell("s2", "b", 5, 100), sell("s3", "a", 5, 101))
    events = book.apply(buy("b1", "a", 7, 101))
    assert kinds(events) == ["Accepted", "Cancelled", "Trade", "Filled", "Cancelled",
                             "PartiallyFilled"]
    assert (events[1].order_id, events[1].reason, events[1].remaining) == (
        "s1", CancelReason.SELF_TRADE, 5)
    assert events[2].sell_order_id == "s2" and events[2].quantity == 5
    assert events[4].order_id == "s3" and events[4].reason is CancelReason.SELF_TRADE
    # the buyer's remainder rests at its limit
    assert resting(book) == {"BUY": [("b1", 101, 2)], "SELL": []}
