"""Cancel and validation scenarios."""
from __future__ import annotations

from engine_helpers import (
    SYM,
    T0,
    apply_all,
    buy,
    cancel,
    limit,
    make_book,
    market,
    resting,
    sell,
)

from engine.enums import CancelReason, Reject, Side, Stage, TimeInForce
from engine.commands import CancelAll
from engine.events import Cancelled, Rejected


def test_cancel_removes_order_and_reports_remaining():
    book = make_book()
    apply_all(book, sell("s1", "a", 10, 100), buy("b1", "b", 4, 100))
    events = book.apply(cancel("s1", "a"))
    assert events == [Cancelled(SYM, events[0].seq, T0, "s1", "a", CancelReason.USER, 6)]
    assert len(book) == 0
    book.check_invariants()


def test_cancel_unknown_and_not_owner_are_rejected():
    book = make_book()
    book.apply(sell("s1", "a", 10, 100))
    (e,) = book.apply(cancel("zz", "a"))
    assert isinstance(e, Rejected) and e.reason is Reject.UNKNOWN_ORDER
    (e,) = book.apply(cancel("s1", "b"))
    assert isinstance(e, Rejected) and e.reason is Reject.NOT_OWNER
    assert len(book) == 1


def test_cancel_middle_of_level_keeps_fifo_of_others():
    book = make_book()
    apply_all(book, sell("s1", "a", 1, 100), sell("s2", "b", 1, 100), sell("s3", "c", 1, 100),
              cancel("s2", "b"))
    assert resting(book)["SELL"] == [("s1", 100, 1), ("s3", 100, 1)]
    events = book.apply(buy("b1", "d", 2, 100))
    assert [e.sell_order_id for e in events if type(e).__name__ == "Trade"] == ["s1", "s3"]


def test_new_order_validation_rejections():
    book = make_book(tick_size=5, lot_size=10, max_order_quantity=1000)
    cases = [
        (buy("o1", "a", 0, 100), Reject.BAD_QUANTITY),
        (buy("o2", "a", -10, 100), Reject.BAD_QUANTITY),
        (buy("o3", "a", 15, 100), Reject.BAD_QUANTITY),      # not a lot multiple
        (buy("o4", "a", 1010, 100), Reject.BAD_QUANTITY),    # above max
        (buy("o5", "a", True, 100), Reject.BAD_QUANTITY),    # bool is not a quantity
        (buy("o6", "a", 10, None), Reject.BAD_PRICE),
        (buy("o7", "a", 10, 0), Reject.BAD_PRICE),
        (buy("o8", "a", 10, 101), Reject.OFF_TICK),
        (market("o9", "a", Side.BUY, 10, collar=-1), Reject.BAD_PRICE),
        (limit("o10", "a", Side.BUY, 10, 100, symbol="OTHER"), Reject.UNKNOWN_SYMBOL),
    ]
    for cmd, reason in cases:
        (e,) = book.apply(cmd)
        assert isinstance(e, Rejected) and e.reason is reason, (cmd, e)
        assert (e.order_id, e.account) == (cmd.order_id, "a")
    assert len(book) == 0


def test_duplicate_order_id_of_resting_order_is_rejected():
    book = make_book()
    book.apply(buy("b1", "a", 10, 100))
    (e,) = book.apply(sell("b1", "b", 10, 200))
    assert e.reason is Reject.DUPLICATE_ORDER_ID


def test_reject_enum_is_the_platform_vocabulary():
    for name in ("BAD_QUANTITY", "BAD_PRICE", "OFF_TICK", "UNKNOWN_SYMBOL",
                 "DUPLICATE_ORDER_ID", "UNKNOWN_ORDER", "NOT_OWNER", "HALTED",
                 "INSUFFICIENT_FUNDS", "INSUFFICIENT_SHARES", "POSITION_LIMIT",
                 "UNKNOWN_ACCOUNT", "MALFORMED"):
        assert Reject[name] == name
    assert all(isinstance(r.stage, Stage) for r in Reject)
    assert Reject.INSUFFICIENT_FUNDS.stage is Stage.RISK
    assert Reject.HALTED.stage is Stage.HALT


def test_cancel_heavy_level_stays_compact_and_fifo():
    book = make_book()
    for i in range(500):
        book.apply(sell(f"s{i}", "a", 1, 100))
    for i in range(0, 499):           # cancel all but the last, oldest first
        book.apply(cancel(f"s{i}", "a"))
    level = book.asks.levels[100]
    assert level.count == 1 and len(level.orders) <= 2 * level.count + 32
    book.check_invariants()
    book.apply(sell("late", "b", 1, 100))
    events = book.apply(buy("b1", "c", 2, 100))
    assert [e.sell_order_id for e in events if type(e).__name__ == "Trade"] == ["s499", "late"]


def test_unknown_command_type_is_a_type_error():
    import pytest
    with pytest.raises(TypeError, match="expected NewOrder, Cancel or CancelAll, got dict"):
        make_book().apply({})


def test_post_only_rests_or_is_rejected_but_never_takes():
    book = make_book()
    apply_all(book, sell("s1", "a", 10, 100), buy("b1", "b", 10, 90))
    crossing = buy("p1", "c", 5, 100)._replace(post_only=True)
    (e,) = book.apply(crossing)
    assert isinstance(e, Rejected) and e.reason is Reject.POST_ONLY_WOULD_CROSS
    (e,) = book.apply(sell("p2", "b", 5, 90)._replace(post_only=True))  # its own bid too
    assert isinstance(e, Rejected) and e.reason is Reject.POST_ONLY_WOULD_CROSS
    assert resting(book) == {"BUY": [("b1", 90, 10)], "SELL": [("s1", 100, 10)]}

    book.apply(buy("p3", "c", 5, 95)._replace(post_only=True))  # inside the spread: rests
    events = book.apply(sell("s2", "d", 5, 95))  # and is the maker when taken
    trades = [e for e in events if type(e).__name__ == "Trade"]
    assert [(t.buy_order_id, t.sell_order_id, t.price) for t in trades] == [("p3", "s2", 95)]
    book.check_invariants()


def test_post_only_is_a_resting_limit_order_only():
    book = make_book()
    for command in (buy("p1", "a", 5, 100, tif=TimeInForce.IOC),
                    market("p2", "a", Side.BUY, 5)):
        (e,) = book.apply(command._replace(post_only=True))
        assert isinstance(e, Rejected) and e.reason is Reject.POST_ONLY_NEEDS_GTC_LIMIT
        assert e.reason.stage is Stage.VALIDATION
    assert len(book) == 0


def test_cancel_all_cancels_every_resting_order_of_the_account_only():
    book = make_book()
    apply_all(book, sell("s1", "a", 10, 101), buy("b1", "a", 5, 99), sell("s2", "b", 3, 102),
              buy("b2", "a", 5, 98))
    events = book.apply(CancelAll("a", SYM, T0))
    assert [(e.order_id, e.reason, e.remaining) for e in events
            if isinstance(e, Cancelled)] == [("s1", CancelReason.USER, 10),
                                             ("b1", CancelReason.USER, 5),
                                             ("b2", CancelReason.USER, 5)]
    assert resting(book) == {"BUY": [], "SELL": [("s2", 102, 3)]}
    assert book.apply(CancelAll("a", SYM, T0)) == []  # nothing left: nothing said
    book.check_invariants()
