"""The order lifecycle: statuses, the transitions between them, the open and terminal sets.

One table for the platform. The gate records an order ACCEPTED or REJECTED, the
matcher's events move it on (published on ``order-events``), settlement derives the
stored status from the order's quantities and checks the move with ``transition``, and
the API shows the stored status (PENDING before the gate has answered). Any move not in
the table raises ``IllegalTransition``, so a bad event stream or ledger row is loud.
Values are the strings stored in ``orders.status`` and carried in JSON.
"""
from __future__ import annotations

from enum import StrEnum

from engine.enums import CommandKind, Reject
from engine.events import Accepted, Cancelled, Filled, PartiallyFilled, Rejected


class OrderStatus(StrEnum):
    PENDING = "PENDING"                  # the request is sent; the gate has not answered
    ACCEPTED = "ACCEPTED"                # funds or shares reserved, nothing filled
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"              # the remainder will never trade (any reason)
    REJECTED = "REJECTED"                # refused with a Reject reason


S = OrderStatus

# status -> the statuses it may become
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    # PENDING is the API's view only: the ledger's first status is the gate's verdict
    S.PENDING: frozenset({S.ACCEPTED, S.REJECTED}),
    S.ACCEPTED: frozenset({
        S.ACCEPTED,           # unchanged: settlement re-derives the status after each effect
        S.PARTIALLY_FILLED,
        S.FILLED,
        S.CANCELLED,          # user, IOC/FOK/MARKET remainder, self-trade prevention, halt
        S.REJECTED,           # the gate accepted it, the matcher refused it (e.g. HALTED)
    }),
    S.PARTIALLY_FILLED: frozenset({
        S.PARTIALLY_FILLED,   # another partial fill
        S.FILLED,
        S.CANCELLED,
    }),
    S.FILLED: frozenset(),
    # a trade matched before the cancel may settle after it: the status stays CANCELLED
    # and only the filled quantity grows
    S.CANCELLED: frozenset({S.CANCELLED}),
    # final whether the gate or the matcher refused it: a rejected order never trades
    S.REJECTED: frozenset(),
}

OPEN = frozenset({S.ACCEPTED, S.PARTIALLY_FILLED})  # may still trade; holds a reservation
TERMINAL = frozenset({S.FILLED, S.CANCELLED, S.REJECTED})  # no other status follows
# reached by giving back what the unfilled remainder holds reserved (FILLED spends it)
RELEASING = frozenset({S.CANCELLED, S.REJECTED})
RECORDED = tuple(s for s in OrderStatus if s is not S.PENDING)  # what orders.status holds

# An order-events status that is not an order's: a refused Cancel. The order's
# own status is unchanged.
CANCEL_REJECTED = "CANCEL_REJECTED"

# the status each of the engine's order events reports
EVENT_STATUS: dict[type, OrderStatus] = {
    Accepted: S.ACCEPTED,
    PartiallyFilled: S.PARTIALLY_FILLED,
    Filled: S.FILLED,
    Cancelled: S.CANCELLED,
    Rejected: S.REJECTED,
}


class IllegalTransition(ValueError):
    pass


def transition(current: str, new: str) -> OrderStatus:
    """``new`` if an order in ``current`` may become it; otherwise IllegalTransition.
    Either may be the stored string: a string equals (and hashes as) its OrderStatus."""
    allowed = TRANSITIONS.get(current, frozenset())
    if new not in allowed:
        raise IllegalTransition(f"order status {current} cannot become {new}; allowed: "
                                f"{', '.join(sorted(allowed)) or 'none'}")
    return new if type(new) is OrderStatus else OrderStatus(new)


def order_status(quantity: int, filled: int, cancelled: int,
                 rejected: bool = False) -> OrderStatus:
    """The status an order's quantities amount to. ``cancelled`` is the remainder released
    by a cancellation or, when ``rejected``, by the matcher's rejection."""
    if filled + cancelled > quantity:
        raise ValueError(f"filled {filled} + cancelled {cancelled} exceed quantity {quantity}")
    if cancelled:
        return S.REJECTED if rejected else S.CANCELLED
    if filled == quantity:
        return S.FILLED
    return S.PARTIALLY_FILLED if filled else S.ACCEPTED


def about_command(event) -> bool:
    """True for a Rejected that refuses a command, not the order: a Cancel, or
    a NewOrder reusing a live order's id. It leaves that order's status unchanged."""
    return type(event) is Rejected and (event.command is not CommandKind.NEW
                                        or event.reason is Reject.DUPLICATE_ORDER_ID)


def next_status(status: OrderStatus, event) -> OrderStatus:
    """Status after ``event``, an engine order event of this order."""
    if about_command(event):
        return status
    new = EVENT_STATUS[type(event)]
    try:
        return transition(status, new)
    except IllegalTransition as e:
        raise IllegalTransition(f"order {getattr(event, 'order_id', '?')} on "
                                f"{type(event).__name__}: {e}") from None
