"""Order status by an explicit transition table over the core's order events.

Downstream (settlement, API) keeps an order's status by folding its events through
``next_status``; any transition not in the table raises, so a bad event stream is
loud. Rejections of a Cancel / Replace, and a NewOrder rejected as a duplicate of a
live id, are about a command, not the order: they leave the status unchanged.
"""
from __future__ import annotations

from enum import StrEnum

from engine.enums import CommandKind, Reject


class OrderStatus(StrEnum):
    NEW = "NEW"                          # known to nobody but its sender yet
    OPEN = "OPEN"                        # accepted, nothing filled
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"              # remainder will never trade (any reason)
    REJECTED = "REJECTED"


TERMINAL = frozenset({OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED})

S = OrderStatus
TRANSITIONS: dict[tuple[OrderStatus, str], OrderStatus] = {
    (S.NEW, "Accepted"): S.OPEN,
    (S.NEW, "Rejected"): S.REJECTED,
    (S.OPEN, "PartiallyFilled"): S.PARTIALLY_FILLED,
    (S.OPEN, "Filled"): S.FILLED,
    (S.OPEN, "Cancelled"): S.CANCELLED,
    (S.OPEN, "Replaced"): S.OPEN,
    (S.PARTIALLY_FILLED, "PartiallyFilled"): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, "Filled"): S.FILLED,
    (S.PARTIALLY_FILLED, "Cancelled"): S.CANCELLED,
    (S.PARTIALLY_FILLED, "Replaced"): S.PARTIALLY_FILLED,
}


class IllegalTransition(ValueError):
    pass


def next_status(status: OrderStatus, event) -> OrderStatus:
    """Status after ``event`` (an order event of this order)."""
    kind = type(event).__name__
    if kind == "Rejected" and (event.command is not CommandKind.NEW
                               or event.reason is Reject.DUPLICATE_ORDER_ID):
        return status
    new = TRANSITIONS.get((status, kind))
    if new is None:
        raise IllegalTransition(f"order {getattr(event, 'order_id', '?')}: no transition "
                                f"from {status} on {kind}; allowed from {status}: "
                                f"{sorted(k for s, k in TRANSITIONS if s is status)}")
    return new
