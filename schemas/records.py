"""The records carried by the platform's topics. Frozen once made; money is integer cents.

Enum-valued fields are plain strings on the wire (the engine's StrEnums), validated
by the gate into typed rejections rather than by the decoder, so that a wrong side or
time in force becomes a REJECTED event with a reason and not a dead letter.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

# Every integer field is bounded here, at decode, so that no out-of-range value reaches
# the engine (whose INF sentinel is 2**62) or a BIGINT column. The client's price and
# quantity are the exception: the gate answers those with BAD_PRICE / BAD_QUANTITY.
MAX_PRICE = 10**11  # cents: $1bn a share
MAX_QUANTITY = (2**63 - 1) // MAX_PRICE  # shares: quantity x price always fits a BIGINT
MAX_TS = 2**53 - 1  # ms since the epoch (year 287,396): exact in a JSON reader's double
# the API's order body: fits a BIGINT, the gate's rules bound it further
Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
Price = Annotated[int, msgspec.Meta(ge=1, le=MAX_PRICE)]
PriceOrZero = Annotated[int, msgspec.Meta(ge=0, le=MAX_PRICE)]  # 0: none
Quantity = Annotated[int, msgspec.Meta(ge=1, le=MAX_QUANTITY)]
QuantityOrZero = Annotated[int, msgspec.Meta(ge=0, le=MAX_QUANTITY)]
Size = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]  # a level's total: many orders
Timestamp = Annotated[int, msgspec.Meta(ge=0, le=MAX_TS)]
Offset = Annotated[int, msgspec.Meta(ge=-1, le=2**63 - 1)]  # a partition or offset; -1: none
Seq = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
# ids and symbols on the internal topics fit their ledger columns; a client's are checked
# by the gate instead (MALFORMED, with text_ok)
MAX_ID_LENGTH = 64
MAX_SYMBOL_LENGTH = 16
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID_LENGTH)]
Symbol = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_SYMBOL_LENGTH)]


def text_ok(value: str, max_length: int = MAX_ID_LENGTH) -> bool:
    """Safe to store or compare in a PostgreSQL text column: non-empty, at most max_length,
    printable (no NUL, which PostgreSQL refuses, and no lone surrogate)."""
    return 0 < len(value) <= max_length and value.isprintable()


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
    ts: Timestamp = 0  # client send time, ms since epoch, for latency measurement only
    post_only: bool = False  # GTC LIMIT: rest or be rejected, never take liquidity


class CancelRequest(msgspec.Struct, frozen=True, tag="cancel", tag_field="kind"):
    """order-requests, key account: a client asks to cancel its own order."""

    order_id: str
    account: str
    ts: Timestamp = 0


class CancelAllRequest(msgspec.Struct, frozen=True, tag="cancel_all", tag_field="kind"):
    """order-requests, key account: cancel every open order of the account (of one symbol
    when given) that the gate accepted before this request."""

    account: str
    symbol: str | None = None
    ts: Timestamp = 0


OrderRequest = NewOrderRequest | CancelRequest | CancelAllRequest


class AcceptedOrder(msgspec.Struct, frozen=True, tag="new", tag_field="kind"):
    """orders, key symbol: validated and reserved by the gate, ready to match.

    `price` for a MARKET order is the protection price (collar) the gate reserved at.
    """

    order_id: Id
    account: Id
    symbol: Symbol
    side: str
    order_type: str
    tif: str
    quantity: Quantity
    price: Price | None
    ts: Timestamp  # gate acceptance time: the matcher's event time
    # the order-requests record this came from: the matcher drops a replayed duplicate
    source_partition: Offset = -1
    source_offset: Offset = -1
    post_only: bool = False


class AcceptedCancel(msgspec.Struct, frozen=True, tag="cancel", tag_field="kind"):
    order_id: Id
    account: Id
    symbol: Symbol
    ts: Timestamp
    source_partition: Offset = -1
    source_offset: Offset = -1


class AcceptedCancelAll(msgspec.Struct, frozen=True, tag="cancel_all", tag_field="kind"):
    """orders: cancel every resting order of the account in the symbol's book."""

    account: Id
    symbol: Symbol
    ts: Timestamp
    source_partition: Offset = -1
    source_offset: Offset = -1


MatcherCommand = AcceptedOrder | AcceptedCancel | AcceptedCancelAll


class OrderBatch(msgspec.Struct, frozen=True):
    """orders, key symbol: what the gate accepted for one symbol in one of its batches, in
    order (one record per symbol per gate batch: a Kafka record costs far more than a
    command)."""

    symbol: Symbol
    commands: list[MatcherCommand]


class OrderEvent(msgspec.Struct, frozen=True):
    """order-events, key account: the life of an order, as its owner sees it."""

    order_id: str
    account: str
    symbol: str
    status: str  # an OrderStatus but PENDING (engine/status.py), or CANCEL_REJECTED
    ts: Timestamp
    reason: str | None = None
    filled_quantity: QuantityOrZero = 0
    remaining_quantity: QuantityOrZero = 0
    seq: Seq = 0  # matcher's per-symbol sequence (0 for events from the gate)


class Trade(msgspec.Struct, frozen=True):
    """trades, key symbol: one execution at the maker's price."""

    trade_id: Id
    symbol: Symbol
    seq: Seq
    price: Price
    quantity: Quantity
    buy_order_id: Id
    sell_order_id: Id
    buyer: Id
    seller: Id
    maker_order_id: Id
    aggressor: Literal["BUY", "SELL"]  # side of the incoming order
    ts: Timestamp


class MatcherResults(msgspec.Struct, frozen=True):
    """matcher-results, key symbol: what the ledger and the candles need of one matcher
    batch of one symbol, in event order: trades, the matcher's CANCELLED / REJECTED order
    events (what they release), halts (internal: settlement and candles read this)."""

    symbol: Symbol
    trades: list[Trade]
    releases: list[OrderEvent]
    halts: list[Halt]


class Quote(msgspec.Struct, frozen=True):
    """quotes, key symbol: best bid and ask with sizes, and the last trade if this moved it."""

    symbol: str
    seq: Seq
    ts: Timestamp
    bid: Price | None
    bid_size: Size
    ask: Price | None
    ask_size: Size
    last: Price | None = None
    last_size: QuantityOrZero = 0


class Halt(msgspec.Struct, frozen=True):
    """halts, key symbol: the circuit breaker tripped (or the halt ended)."""

    symbol: Symbol
    halted: bool
    ts: Timestamp
    until_ts: Timestamp = 0
    reference_price: PriceOrZero = 0
    attempted_price: PriceOrZero = 0


class DeadLetter(msgspec.Struct, frozen=True):
    """dead-letters: what could not be decoded or applied, with where it came from."""

    topic: str
    partition: Offset
    offset: Offset
    error: str
    key: str | None  # at most its first 256 bytes
    value: str  # the first 1,024 bytes of the value, as UTF-8 with replacement
    size: Size = 0  # of the whole value, in bytes
    sha256: str = ""  # of the whole value
