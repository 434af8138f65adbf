"""The order lifecycle table (engine/status.py) against the core's events: every order's
event stream follows it, and a transition outside the table is an error."""
from __future__ import annotations

import pytest
from engine_flows import SYMBOL, random_flow

from engine.book import Book
from engine.enums import CancelReason, CommandKind, Reject
from engine.events import Accepted, Cancelled, Filled, Rejected
from engine.spec import SymbolSpec
from engine.status import TERMINAL, IllegalTransition, OrderStatus, next_status

ORDER_EVENTS = ("Accepted", "Rejected", "PartiallyFilled", "Filled", "Cancelled")


def test_every_order_follows_the_transition_table():
    book = Book(SymbolSpec(SYMBOL, band_bps=60, window_ms=40, halt_ms=10))
    status: dict[str, OrderStatus] = {}
    traded: dict[str, int] = {}
    for cmd in random_flow(41, 30_000, ts_step=2):
        for e in book.apply(cmd):
            kind = type(e).__name__
            if kind == "Trade":
                traded[e.buy_order_id] = traded.get(e.buy_order_id, 0) + e.quantity
                traded[e.sell_order_id] = traded.get(e.sell_order_id, 0) + e.quantity
                continue
            if kind not in ORDER_EVENTS:
                continue
            current = status.get(e.order_id, OrderStatus.PENDING)
            if current in TERMINAL and (kind == "Accepted" or (
                    kind == "Rejected" and e.command is CommandKind.NEW)):
                # the flow reuses a few ids after the order is done: a new life
                current = OrderStatus.PENDING
                traded[e.order_id] = 0
            status[e.order_id] = next_status(current, e)
            if kind in ("Filled", "PartiallyFilled"):
                # invariant 6: filled quantity equals the sum of the order's trades
                assert e.filled == traded[e.order_id], (e, traded[e.order_id])
    assert OrderStatus.FILLED in status.values() and OrderStatus.CANCELLED in status.values()


def test_transition_outside_the_table_raises_with_what_was_expected():
    filled = Filled(SYMBOL, 1, 0, "o1", "a", 5, 0)
    with pytest.raises(IllegalTransition, match="o1 on Filled: .* FILLED cannot become FILLED"):
        next_status(OrderStatus.FILLED, filled)
    with pytest.raises(IllegalTransition):
        next_status(OrderStatus.PENDING, Cancelled(SYMBOL, 1, 0, "o1", "a", CancelReason.USER, 5))
    with pytest.raises(IllegalTransition):
        next_status(OrderStatus.CANCELLED, Accepted(SYMBOL, 1, 0, "o1", "a", None, None, None,
                                                    1, 1))


def test_rejected_cancel_or_duplicate_leaves_status_unchanged():
    rej_cancel = Rejected(SYMBOL, 1, 0, "o1", "b", CommandKind.CANCEL, Reject.NOT_OWNER)
    assert next_status(OrderStatus.ACCEPTED, rej_cancel) is OrderStatus.ACCEPTED
    dup = Rejected(SYMBOL, 1, 0, "o1", "b", CommandKind.NEW, Reject.DUPLICATE_ORDER_ID)
    assert next_status(OrderStatus.PARTIALLY_FILLED, dup) is OrderStatus.PARTIALLY_FILLED
    new_rej = Rejected(SYMBOL, 1, 0, "o2", "b", CommandKind.NEW, Reject.HALTED)
    assert next_status(OrderStatus.PENDING, new_rej) is OrderStatus.REJECTED
