"""Commands into the matching core. Each carries its own event time ``ts``
(integer milliseconds since the epoch); the core never reads a clock.

``typing.NamedTuple``, like the events (engine/events.py): the matcher builds one per
order, and a frozen slotted dataclass costs about four times as much to build
(measured: 0.32 µs vs 1.3 µs on CPython 3.11)."""
from __future__ import annotations

from typing import NamedTuple

from engine.enums import OrderType, Side, TimeInForce


class NewOrder(NamedTuple):
    order_id: str
    account: str
    symbol: str
    side: Side
    type: OrderType
    tif: TimeInForce
    quantity: int
    price: int | None  # LIMIT: limit price; MARKET: optional protection price (collar)
    ts: int
    post_only: bool = False  # GTC LIMIT only: rejected rather than take liquidity


class Cancel(NamedTuple):
    order_id: str
    account: str
    symbol: str
    ts: int


class CancelAll(NamedTuple):
    """Cancel every resting order of the account in this book."""

    account: str
    symbol: str
    ts: int


Command = NewOrder | Cancel | CancelAll
