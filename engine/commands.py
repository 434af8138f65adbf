"""Commands into the matching core. Each carries its own event time ``ts``
(integer milliseconds since the epoch); the core never reads a clock."""
from __future__ import annotations

from dataclasses import dataclass

from engine.enums import OrderType, Side, TimeInForce


@dataclass(frozen=True, slots=True)
class NewOrder:
    order_id: str
    account: str
    symbol: str
    side: Side
    type: OrderType
    tif: TimeInForce
    quantity: int
    price: int | None  # LIMIT: limit price; MARKET: optional protection price (collar)
    ts: int


@dataclass(frozen=True, slots=True)
class Cancel:
    order_id: str
    account: str
    symbol: str
    ts: int


Command = NewOrder | Cancel
