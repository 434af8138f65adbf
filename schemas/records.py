"""The records carried by the platform's topics. Frozen once made; money is integer cents.

Enum-valued fields are plain strings on the wire (the engine's StrEnums), validated
by the gate into typed rejections rather than by the decoder, so that a wrong side or
time in force becomes a REJECTED event with a reason and not a dead letter.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

# every integer that reaches PostgreSQL or the engine fits a BIGINT
Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]


class NewOrderRequest(msgspec.Struct, frozen=True, tag="new", tag_field="kind"):
    """order-requests, key account: a client asks for an order."""

    order_id: str
    account: str
    symbol: str
    side: str
    quantity: int
    order_type: str = "LIMIT"
    tif: str = "GTC"
    price: int | None = None  # cents; MARKET orders leave it out
    ts: Int64 = 0  # client send time, ms since epoch, for latency measurement only


class CancelRequest(msgspec.Struct, frozen=True, tag="cancel", tag_field="kind"):
    """order-requests, key account: a client asks to cancel its own order."""

    order_id: str
    account: str
    ts: Int64 = 0


OrderRequest = NewOrderRequest | CancelRequest


class AcceptedOrder(msgspec.Struct, frozen=True, tag="new", tag_field="kind"):
    """orders, key symbol: validated and reserved by the gate, ready to match.

    `price` for a MARKET order is the protection price (collar) the gate reserved at.
    """

    order_id: str
    account: str
    symbol: str
    side: str
    order_type: str
    tif: str
    quantity: Int64
    price: Int64 | None
    ts: Int64  # gate acceptance time: the matcher's event time
    # the order-requests record this came from: the matcher drops a replayed duplicate
    source_partition: Int64 = -1
    source_offset: Int64 = -1


class AcceptedCancel(msgspec.Struct, frozen=True, tag="cancel", tag_field="kind"):
    order_id: str
    account: str
    symbol: str
    ts: Int64
    source_partition: Int64 = -1
    source_offset: Int64 = -1


MatcherCommand = AcceptedOrder | AcceptedCancel


class OrderEvent(msgspec.Struct, frozen=True):
    """order-events, key account: the life of an order, as its owner sees it."""

    order_id: str
    account: str
    symbol: str
    status: str  # ACCEPTED, REJECTED, PARTIALLY_FILLED, FILLED, CANCELLED
    ts: Int64
    reason: str | None = None
    filled_quantity: Int64 = 0
    remaining_quantity: Int64 = 0
    seq: Int64 = 0  # matcher's per-symbol sequence (0 for events from the gate)


class Trade(msgspec.Struct, frozen=True):
    """trades, key symbol: one execution at the maker's price."""

    trade_id: str
    symbol: str
    seq: Int64
    price: Int64
    quantity: Int64
    buy_order_id: str
    sell_order_id: str
    buyer: str
    seller: str
    maker_order_id: str
    aggressor: str  # side of the incoming order
    ts: Int64


class Quote(msgspec.Struct, frozen=True):
    """quotes, key symbol: best bid and ask with sizes, and the last trade if this moved it."""

    symbol: str
    seq: Int64
    ts: Int64
    bid: Int64 | None
    bid_size: Int64
    ask: Int64 | None
    ask_size: Int64
    last: Int64 | None = None
    last_size: Int64 = 0


class Halt(msgspec.Struct, frozen=True):
    """halts, key symbol: the circuit breaker tripped (or the halt ended)."""

    symbol: str
    halted: bool
    ts: Int64
    until_ts: Int64 = 0
    reference_price: Int64 = 0
    attempted_price: Int64 = 0


class DeadLetter(msgspec.Struct, frozen=True):
    """dead-letters: what could not be decoded or applied, with where it came from."""

    topic: str
    partition: Int64
    offset: Int64
    error: str
    key: str | None  # at most its first 256 bytes
    value: str  # the first 1,024 bytes of the value, as UTF-8 with replacement
    size: Int64 = 0  # of the whole value, in bytes
    sha256: str = ""  # of the whole value
