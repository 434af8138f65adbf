"""Circuit breaker: reference price, halt, rejection while halted, resume."""
from __future__ import annotations

from engine_helpers import SYM, T0, apply_all, buy, cancel, kinds, make_book, resting, sell

from engine.enums import CancelReason, Reject, TimeInForce
from engine.events import Halted, Resumed, Trade

MIN = 60_000


def seeded_book(**spec):
    """A book whose last trade printed at 100 at T0."""
    book = make_book(**spec)
    apply_all(book, sell("s0", "m", 1, 100, ts=T0), buy("b0", "t", 1, 100, ts=T0))
    return book


def test_trade_within_band_prints():
    book = seeded_book()
    book.apply(sell("s1", "m", 1, 110, ts=T0 + MIN))
    events = book.apply(buy("b1", "t", 1, 110, ts=T0 + MIN))
    assert any(isinstance(e, Trade) and e.price == 110 for e in events)   # exactly 10%


def test_breach_halts_without_printing_and_cancels_incoming_remainder():
    book = seeded_book()
    apply_all(book, sell("s1", "m", 2, 105, ts=T0 + 1), sell("s2", "m", 5, 111, ts=T0 + 2))
    events = book.apply(buy("b1", "t", 5, 120, ts=T0 + 3))
    assert kinds(events) == ["Accepted", "Trade", "Filled", "Halted", "PartiallyFilled",
                             "Cancelled"]
    halted = events[3]
    assert halted == Halted(SYM, halted.seq, T0 + 3, 100, 111, T0 + 3 + 5 * MIN)
    assert events[-1].reason is CancelReason.HALTED and events[-1].remaining == 3
    assert resting(book)["SELL"] == [("s2", 111, 5)]        # resting orders stay
    assert book.halted_until == T0 + 3 + 5 * MIN
    book.check_invariants()


def test_while_halted_new_orders_are_rejected_cancels_allowed():
    book = seeded_book()
    apply_all(book, sell("s1", "m", 5, 200, ts=T0 + 1), buy("b1", "t", 1, 200, ts=T0 + 2))
    (e,) = book.apply(buy("b2", "t", 1, 90, ts=T0 + 3))
    assert e.reason is Reject.HALTED
    (e,) = book.apply(cancel("s1", "m", ts=T0 + 5))
    assert e.reason is CancelReason.USER


def test_halt_ends_by_event_time_with_resumed_event():
    book = seeded_book(halt_ms=1000)
    apply_all(book, sell("s1", "m", 5, 200, ts=T0 + 1), buy("b1", "t", 1, 200, ts=T0 + 2))
    until = T0 + 2 + 1000
    assert book.apply(buy("x", "t", 1, 90, ts=until - 1))[0].reason is Reject.HALTED
    events = book.apply(buy("y", "t", 1, 90, ts=until))
    assert kinds(events) == ["Resumed", "Accepted"]
    assert events[0] == Resumed(SYM, events[0].seq, until)
    assert book.halted_until is None


def test_reference_is_last_trade_at_or_before_window_start():
    book = seeded_book(window_ms=5 * MIN)                       # 100 at T0
    apply_all(book, sell("s1", "m", 1, 108, ts=T0 + 2 * MIN),
              buy("b1", "t", 1, 108, ts=T0 + 2 * MIN))          # 108 at T0+2min
    # at T0+5min the reference is still 100 (T0 <= ts - window): 111 breaches
    apply_all(book, sell("s2", "m", 1, 111, ts=T0 + 5 * MIN))
    events = book.apply(buy("b2", "t", 1, 111, ts=T0 + 5 * MIN))
    assert "Halted" in kinds(events) and events[1].reference_price == 100


def test_reference_moves_forward_with_time():
    book = seeded_book(window_ms=5 * MIN)
    apply_all(book, sell("s1", "m", 1, 108, ts=T0 + 2 * MIN),
              buy("b1", "t", 1, 108, ts=T0 + 2 * MIN))
    # at T0+7min the reference is 108 (traded at T0+2min): 111 is within 10%
    apply_all(book, sell("s2", "m", 1, 111, ts=T0 + 7 * MIN))
    events = book.apply(buy("b2", "t", 1, 111, ts=T0 + 7 * MIN))
    assert "Trade" in kinds(events)


def test_configured_reference_price_applies_before_any_old_trade():
    book = make_book(reference_price=100)
    book.apply(sell("s1", "m", 1, 120))
    events = book.apply(buy("b1", "t", 1, 120))
    assert "Halted" in kinds(events) and events[1].reference_price == 100


def test_first_trade_ever_sets_the_reference_when_none_configured():
    book = make_book()
    apply_all(book, sell("s1", "m", 1, 100), sell("s2", "m", 1, 125))
    events = book.apply(buy("b1", "t", 2, 130))
    assert kinds(events)[:4] == ["Accepted", "Trade", "Filled", "Halted"]
    assert events[3].reference_price == 100 and events[3].attempted_price == 125


def test_fok_that_needs_a_breaching_price_halts_with_no_trades():
    book = seeded_book()
    apply_all(book, sell("s1", "m", 1, 105, ts=T0 + 1), sell("s2", "m", 1, 115, ts=T0 + 1))
    events = book.apply(buy("b1", "t", 2, 120, tif=TimeInForce.FOK, ts=T0 + 2))
    assert kinds(events) == ["Accepted", "Halted", "Cancelled"]
    assert events[-1].reason is CancelReason.HALTED and events[-1].remaining == 2
    assert len(book) == 2


def test_band_and_durations_are_configurable():
    book = seeded_book(band_bps=200, halt_ms=10)
    apply_all(book, sell("s1", "m", 1, 103, ts=T0 + 1))
    events = book.apply(buy("b1", "t", 1, 103, ts=T0 + 1))
    assert kinds(events) == ["Accepted", "Halted", "Cancelled"]
    assert events[1].halted_until == T0 + 11
