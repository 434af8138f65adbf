"""Regression: prices at or above the book's INF sentinel and event times at or past it.

A BUY at a price >= INF crossed an empty ask side (best key == INF) and looked up
levels[INF] (KeyError); an event time >= INF recursed between apply and _resume forever.
"""
from __future__ import annotations

import pytest
from engine_helpers import apply_all, buy, cancel, limit, make_book, market, sell

from engine import snapshot
from engine.breaker import INF
from engine.enums import Reject, Side
from engine.events import Rejected


def rejected(events) -> Reject:
    (e,) = events
    assert isinstance(e, Rejected), e
    return e.reason


@pytest.mark.parametrize("price", [INF, INF + 1, 2**63])
def test_limit_at_or_above_inf_is_bad_price(price):
    book = make_book()
    assert rejected(book.apply(buy("b", "a", 1, price))) is Reject.BAD_PRICE
    assert rejected(book.apply(sell("s", "a", 1, price))) is Reject.BAD_PRICE
    apply_all(book, sell("s1", "x", 5, 100))
    assert rejected(book.apply(buy("b2", "a", 1, price))) is Reject.BAD_PRICE
    assert len(book) == 1
    book.check_invariants()


def test_market_with_a_collar_at_inf_is_bad_price():
    book = make_book()
    assert rejected(book.apply(market("m", "a", Side.BUY, 1, collar=INF))) is Reject.BAD_PRICE
    apply_all(book, sell("s1", "x", 5, 100))
    assert rejected(book.apply(market("m2", "a", Side.BUY, 9, collar=INF))) is Reject.BAD_PRICE
    assert len(book) == 1


def test_just_below_inf_still_rests():
    book = make_book()
    apply_all(book, limit("b", "a", Side.BUY, 1, INF - 1))
    assert book.best_bid() == INF - 1


@pytest.mark.parametrize("command", [
    lambda ts: buy("late", "a", 1, 100, ts=ts),
    lambda ts: cancel("b1", "a", ts=ts),
])
def test_event_time_at_inf_raises_and_changes_nothing(command):
    book = make_book()
    apply_all(book, buy("b1", "a", 5, 99), sell("s1", "b", 5, 101))
    before = snapshot.to_dict(book)
    with pytest.raises(ValueError, match="event time"):
        book.apply(command(INF))
    assert snapshot.to_dict(book) == before
    assert book._halt_end == INF
