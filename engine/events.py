"""Events out of the matching core.

Typed, immutable, with named fields: ``typing.NamedTuple`` because building one costs
about a quarter of a frozen slotted dataclass on CPython 3.11 (measured: 0.37 µs vs
1.5 µs), and the hot path builds one per command. Being tuples, two events of different
classes with equal fields compare equal: compare ``type(e)`` too (``to_dict`` does).

Every event starts with ``symbol, seq, ts``: ``seq`` is the book's per-symbol event
sequence number (1, 2, 3, ... over all events of that symbol), ``ts`` the event time
of the command that caused it. Rejections made before a book is found (unknown
symbol) carry ``seq`` 0.
"""
from __future__ import annotations

from typing import NamedTuple

from engine.enums import CancelReason, CommandKind, OrderType, Reject, Side, TimeInForce


class Accepted(NamedTuple):
    symbol: str
    seq: int
    ts: int
    order_id: str
    account: str
    side: Side
    type: OrderType
    tif: TimeInForce
    quantity: int
    price: int | None


class Rejected(NamedTuple):
    symbol: str
    seq: int
    ts: int
    order_id: str
    account: str
    command: CommandKind   # which command was rejected
    reason: Reject


class Trade(NamedTuple):
    symbol: str
    seq: int
    ts: int
    trade_id: str          # f"{symbol}-{trade_seq}", deterministic
    price: int             # the maker's price
    quantity: int
    buy_order_id: str
    sell_order_id: str
    buyer: str             # account
    seller: str            # account
    maker_order_id: str
    taker_side: Side


class PartiallyFilled(NamedTuple):
    symbol: str
    seq: int
    ts: int
    order_id: str
    account: str
    filled: int            # filled so far
    remaining: int


class Filled(NamedTuple):
    symbol: str
    seq: int
    ts: int
    order_id: str
    account: str
    filled: int
    remaining: int         # always 0


class Cancelled(NamedTuple):
    symbol: str
    seq: int
    ts: int
    order_id: str
    account: str
    reason: CancelReason
    remaining: int         # quantity that will never trade (release its reservation)


class Halted(NamedTuple):
    symbol: str
    seq: int
    ts: int
    reference_price: int
    attempted_price: int
    halted_until: int


class Resumed(NamedTuple):
    symbol: str
    seq: int
    ts: int


class LevelChanged(NamedTuple):
    """Incremental market data: the new total at one price; ``count`` 0 = level gone."""

    symbol: str
    seq: int
    ts: int
    side: Side
    price: int
    quantity: int
    count: int


Event = (
    Accepted | Rejected | Trade | PartiallyFilled | Filled | Cancelled | Halted | Resumed
    | LevelChanged
)

EVENT_TYPES = {
    cls.__name__: cls
    for cls in (Accepted, Rejected, Trade, PartiallyFilled, Filled, Cancelled, Halted,
                Resumed, LevelChanged)
}


def to_dict(event: Event) -> dict:
    """JSON-ready dict (enums are str, money is int) with an ``event`` discriminator."""
    data = event._asdict()
    data["event"] = type(event).__name__
    return data


def from_dict(data: dict) -> Event:
    data = dict(data)
    cls = EVENT_TYPES[data.pop("event")]
    return cls(**data)
