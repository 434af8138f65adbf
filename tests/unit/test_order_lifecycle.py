"""The order lifecycle (engine/status.py), as a specification: which status may follow
which, which are open and terminal, and the status an order's quantities amount to."""
from __future__ import annotations

import pytest

from engine.status import (
    OPEN,
    RECORDED,
    RELEASING,
    TERMINAL,
    TRANSITIONS,
    IllegalTransition,
    OrderStatus,
    order_status,
    transition,
)

S = OrderStatus

ALLOWED = [
    # the gate's verdict on a request the API showed as PENDING
    (S.PENDING, S.ACCEPTED),
    (S.PENDING, S.REJECTED),
    # an accepted order trades, is cancelled, or is refused by the matcher (e.g. HALTED)
    (S.ACCEPTED, S.ACCEPTED),
    (S.ACCEPTED, S.PARTIALLY_FILLED),
    (S.ACCEPTED, S.FILLED),
    (S.ACCEPTED, S.CANCELLED),
    (S.ACCEPTED, S.REJECTED),
    (S.PARTIALLY_FILLED, S.PARTIALLY_FILLED),
    (S.PARTIALLY_FILLED, S.FILLED),
    (S.PARTIALLY_FILLED, S.CANCELLED),
    # a trade matched before the cancel settles after it
    (S.CANCELLED, S.CANCELLED),
]


def test_the_table_allows_exactly_these_transitions():
    table = {(a, b) for a, after in TRANSITIONS.items() for b in after}
    assert table == set(ALLOWED)
    assert set(TRANSITIONS) == set(OrderStatus)


@pytest.mark.parametrize(("current", "new"), ALLOWED)
def test_an_allowed_transition_returns_the_new_status(current, new):
    assert transition(current, new) is new
    # the ledger stores plain strings: they work the same
    assert transition(str(current.value), str(new.value)) is new


@pytest.mark.parametrize(("current", "new"), [
    (S.FILLED, S.FILLED),               # a filled order cannot fill again
    (S.FILLED, S.CANCELLED),
    (S.PARTIALLY_FILLED, S.ACCEPTED),   # fills are never undone
    (S.PARTIALLY_FILLED, S.REJECTED),   # the matcher refuses an order on arrival only
    (S.CANCELLED, S.FILLED),            # a late trade does not reopen a cancelled order
    (S.REJECTED, S.ACCEPTED),           # rejected at the gate: final from the start
    (S.REJECTED, S.REJECTED),
    (S.ACCEPTED, S.PENDING),            # PENDING is before the ledger knows the order
    (S.PENDING, S.FILLED),
])
def test_a_transition_outside_the_table_raises_naming_what_is_allowed(current, new):
    with pytest.raises(IllegalTransition, match=f"{current} cannot become {new}; allowed"):
        transition(current, new)


def test_an_unknown_status_raises():
    with pytest.raises(IllegalTransition):
        transition("NEW", S.ACCEPTED)
    with pytest.raises(IllegalTransition):
        transition(S.ACCEPTED, "OPEN")


def test_open_terminal_and_releasing_sets():
    assert OPEN == {S.ACCEPTED, S.PARTIALLY_FILLED}
    assert TERMINAL == {S.FILLED, S.CANCELLED, S.REJECTED}
    assert RELEASING == {S.CANCELLED, S.REJECTED} and RELEASING <= TERMINAL
    assert not OPEN & TERMINAL
    # nothing but itself follows a terminal status; an open one may still move on
    assert all(TRANSITIONS[s] <= {s} for s in TERMINAL)
    assert all(TRANSITIONS[s] - {s} for s in OPEN)


def test_recorded_statuses_are_all_but_pending_in_lifecycle_order():
    assert RECORDED == (S.ACCEPTED, S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.REJECTED)


def test_values_are_the_stored_strings():
    assert all(s == s.value == s.name for s in OrderStatus)
    assert "FILLED" in TERMINAL and "ACCEPTED" in OPEN


@pytest.mark.parametrize(("quantity", "filled", "cancelled", "rejected", "status"), [
    (10, 0, 0, False, S.ACCEPTED),
    (10, 4, 0, False, S.PARTIALLY_FILLED),
    (10, 10, 0, False, S.FILLED),
    (10, 0, 10, False, S.CANCELLED),
    (10, 4, 6, False, S.CANCELLED),           # partly filled, the rest cancelled
    (10, 0, 10, True, S.REJECTED),            # refused by the matcher: the whole order
    (10, 4, 0, True, S.PARTIALLY_FILLED),     # `rejected` only names what `cancelled` is
])
def test_order_status_from_quantities(quantity, filled, cancelled, rejected, status):
    assert order_status(quantity, filled, cancelled, rejected) is status


def test_order_status_of_more_than_the_quantity_raises():
    with pytest.raises(ValueError, match="filled 7 \\+ cancelled 4 exceed quantity 10"):
        order_status(10, 7, 4)
    with pytest.raises(ValueError):
        order_status(10, 11, 0)


def test_a_late_trade_of_a_cancelled_order_keeps_it_cancelled():
    # the matcher filled 5 of 10 and cancelled the other 5; settlement saw the cancel
    # before the fifth share's trade
    cancelled = order_status(10, 4, 5)
    after_late_trade = order_status(10, 5, 5)
    assert cancelled is after_late_trade is S.CANCELLED
    assert transition(cancelled, after_late_trade) is S.CANCELLED
