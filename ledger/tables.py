"""Table definitions (SQLAlchemy Core). The migrations in ledger/migrations create them.

Money is BIGINT cents, quantities BIGINT shares. CHECK constraints make a negative
balance impossible whatever the code does (DESIGN invariant 1).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
)

from engine.status import OPEN

metadata = MetaData()


def status_in(statuses) -> str:
    """SQL list of order statuses for `status IN ...`: constants, sorted so the text is
    the same in every process (a query must spell a partial index's predicate as it is)."""
    return "(" + ", ".join(f"'{s}'" for s in sorted(statuses)) + ")"


OPEN_STATUSES = status_in(OPEN)  # ('ACCEPTED', 'PARTIALLY_FILLED')

NOW_MS = text("(extract(epoch from clock_timestamp()) * 1000)::bigint")

accounts = Table(
    "accounts",
    metadata,
    Column("account_id", String(64), primary_key=True),
    Column("name", Text, nullable=False, server_default=""),
    Column("cash", BigInteger, nullable=False, server_default="0"),
    Column("reserved_cash", BigInteger, nullable=False, server_default="0"),
    Column("created_ms", BigInteger, nullable=False, server_default=NOW_MS),
    CheckConstraint("cash >= 0", name="cash_not_negative"),
    CheckConstraint("reserved_cash >= 0", name="reserved_cash_not_negative"),
)

symbols = Table(
    "symbols",
    metadata,
    Column("symbol", String(16), primary_key=True),
    Column("name", Text, nullable=False, server_default=""),
    Column("tick_size", Integer, nullable=False, server_default="1"),
    Column("lot_size", Integer, nullable=False, server_default="1"),
    Column("max_order_quantity", BigInteger, nullable=False, server_default="1000000"),
    Column("shares_outstanding", BigInteger, nullable=False),
    Column("reference_price", BigInteger, nullable=False),  # cents; before the first trade
    Column("last_price", BigInteger),  # cents; set by settlement
    Column("last_trade_seq", BigInteger, nullable=False, server_default="0"),
    # circuit breaker: a trade more than band_bps from the price window_ms earlier halts
    Column("breaker_band_bps", Integer, nullable=False, server_default="1000"),
    Column("breaker_window_ms", BigInteger, nullable=False, server_default="300000"),
    Column("halt_ms", BigInteger, nullable=False, server_default="300000"),
    Column("halted_until_ms", BigInteger, nullable=False, server_default="0"),
    # the `orders` partition of its commands, set when it is made (ledger/admin.py)
    Column("home_partition", Integer, nullable=False),
    Column("created_ms", BigInteger, nullable=False, server_default=NOW_MS),
    CheckConstraint("tick_size > 0", name="tick_size_positive"),
    CheckConstraint("lot_size > 0", name="lot_size_positive"),
    CheckConstraint("max_order_quantity > 0", name="max_order_quantity_positive"),
    CheckConstraint("shares_outstanding > 0", name="shares_outstanding_positive"),
    CheckConstraint("reference_price > 0", name="reference_price_positive"),
    CheckConstraint("home_partition >= 0", name="home_partition_not_negative"),
)

holdings = Table(
    "holdings",
    metadata,
    Column("account_id", String(64), ForeignKey("accounts.account_id"), primary_key=True),
    Column("symbol", String(16), ForeignKey("symbols.symbol"), primary_key=True),
    Column("quantity", BigInteger, nullable=False, server_default="0"),
    Column("reserved_quantity", BigInteger, nullable=False, server_default="0"),
    # total cents paid for the position (quantity + reserved_quantity); average = cost // position
    Column("cost_basis", BigInteger, nullable=False, server_default="0"),
    # what the account's open buy orders of the symbol may still buy: the position limit's
    # part for them, kept by the gate (each accepted buy) and settlement (fills, releases)
    Column("open_buy_quantity", BigInteger, nullable=False, server_default="0"),
    CheckConstraint("quantity >= 0", name="quantity_not_negative"),
    CheckConstraint("reserved_quantity >= 0", name="reserved_quantity_not_negative"),
    CheckConstraint("cost_basis >= 0", name="cost_basis_not_negative"),
    CheckConstraint("open_buy_quantity >= 0", name="open_buy_quantity_not_negative"),
)

orders = Table(
    "orders",
    metadata,
    Column("order_id", String(64), primary_key=True),
    Column("account_id", String(64), ForeignKey("accounts.account_id"), nullable=False),
    Column("symbol", String(16), nullable=False),
    Column("side", String(4), nullable=False),
    Column("order_type", String(6), nullable=False),
    Column("tif", String(3), nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("price", BigInteger),  # limit price, or the collar a MARKET order reserved at
    Column("post_only", Boolean, nullable=False, server_default=text("false")),
    Column("filled_quantity", BigInteger, nullable=False, server_default="0"),
    # the unfilled remainder once cancelled, expired or rejected downstream
    Column("cancelled_quantity", BigInteger, nullable=False, server_default="0"),
    Column("status", String(16), nullable=False),
    Column("reject_reason", String(32)),
    # what this order still holds reserved: cash for a buy, shares for a sell
    Column("reserved_cash", BigInteger, nullable=False, server_default="0"),
    Column("reserved_quantity", BigInteger, nullable=False, server_default="0"),
    # where the request came from: a replay of the same record is recognised, a reuse is not
    Column("source_partition", Integer),
    Column("source_offset", BigInteger),
    Column("created_ms", BigInteger, nullable=False, server_default=NOW_MS),
    Column("updated_ms", BigInteger, nullable=False, server_default=NOW_MS),
    CheckConstraint("quantity > 0", name="order_quantity_positive"),
    CheckConstraint("filled_quantity >= 0 AND cancelled_quantity >= 0 "
                    "AND filled_quantity + cancelled_quantity <= quantity",
                    name="filled_within_quantity"),
    CheckConstraint("reserved_cash >= 0", name="order_reserved_cash_not_negative"),
    CheckConstraint("reserved_quantity >= 0", name="order_reserved_quantity_not_negative"),
    Index("orders_by_account", "account_id", "created_ms"),
)

trades = Table(
    "trades",
    metadata,
    Column("trade_id", String(64), primary_key=True),  # deterministic: replay is a no-op
    Column("symbol", String(16), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("price", BigInteger, nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("buy_order_id", String(64), nullable=False),
    Column("sell_order_id", String(64), nullable=False),
    Column("buyer", String(64), nullable=False),
    Column("seller", String(64), nullable=False),
    Column("aggressor", String(4), nullable=False),
    Column("executed_ms", BigInteger, nullable=False),
    Column("settled_ms", BigInteger, nullable=False, server_default=NOW_MS),
    CheckConstraint("price > 0", name="trade_price_positive"),
    CheckConstraint("quantity > 0", name="trade_quantity_positive"),
    Index("trades_by_symbol_time", "symbol", "executed_ms"),
    Index("trades_by_buyer", "buyer", "executed_ms"),
    Index("trades_by_seller", "seller", "executed_ms"),
)

# Deposits and withdrawals (asset 'CASH') and share transfers in or out (asset = symbol).
adjustments = Table(
    "adjustments",
    metadata,
    Column("adjustment_id", BigInteger, primary_key=True, autoincrement=True),
    Column("account_id", String(64), ForeignKey("accounts.account_id"), nullable=False),
    Column("asset", String(16), nullable=False),
    Column("amount", BigInteger, nullable=False),  # signed: + deposit, - withdrawal
    Column("reference", String(64), unique=True),  # idempotency key of the request
    Column("note", Text, nullable=False, server_default=""),
    Column("created_ms", BigInteger, nullable=False, server_default=NOW_MS),
    # shares only: cents added to (+) or taken from (-) the holding's cost basis
    Column("cost_basis", BigInteger, nullable=False, server_default="0"),
    CheckConstraint("amount <> 0", name="adjustment_not_zero"),
)

# API credentials: only a SHA-256 of each token is stored.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("account_id", String(64), ForeignKey("accounts.account_id")),  # NULL for admin
    Column("is_admin", Boolean, nullable=False, server_default=text("false")),
    Column("label", Text, nullable=False, server_default=""),
    Column("created_ms", BigInteger, nullable=False, server_default=NOW_MS),
    # the token's first characters, to name it in `matchstream token --list / --revoke`
    Column("prefix", String(16), nullable=False, server_default=""),
    Column("expires_ms", BigInteger),  # NULL: never
    Column("revoked_ms", BigInteger),
)

# A retried POST /v1/orders with the same key answers with the first order's id.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("account_id", String(64), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("order_id", String(64), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("created_ms", BigInteger, nullable=False, server_default=NOW_MS),
)

# Closed OHLCV candles, for history; live ones are in the workers' windowed tables.
candles = Table(
    "candles",
    metadata,
    Column("symbol", String(16), primary_key=True),
    Column("interval", String(4), primary_key=True),  # 1m, 5m, 1h, 1d
    Column("start_ms", BigInteger, primary_key=True),
    Column("open", BigInteger, nullable=False),
    Column("high", BigInteger, nullable=False),
    Column("low", BigInteger, nullable=False),
    Column("close", BigInteger, nullable=False),
    Column("volume", BigInteger, nullable=False),
    Column("trades", Integer, nullable=False),
    Column("last_seq", BigInteger, nullable=False),
)

# Order ids POST /v1/orders handed out: a cancel that reaches the API before the gate has
# recorded the order is still the caller's to send (the gate sees it after the order).
issued_orders = Table(
    "issued_orders",
    metadata,
    Column("order_id", String(64), primary_key=True),
    Column("account_id", String(64), nullable=False),
    Column("created_ms", BigInteger, nullable=False, server_default=NOW_MS),
    Column("request", LargeBinary, nullable=True),  # the NewOrderRequest as produced
)

# Written by a stage's probe: a write that succeeds proves the database takes writes.
stage_heartbeats = Table(
    "stage_heartbeats",
    metadata,
    Column("stage", String(64), primary_key=True),
    Column("beat_ms", BigInteger, nullable=False),
)

# Records an operator told a blocked stage to pass over (`matchstream skip`); each still
# becomes a dead letter, with the operator's reason.
skipped_records = Table(
    "skipped_records",
    metadata,
    Column("topic", String(200), primary_key=True),
    Column("partition", Integer, primary_key=True),
    Column("offset", BigInteger, primary_key=True),
    Column("reason", Text, nullable=False),
    Column("created_ms", BigInteger, nullable=False, server_default=NOW_MS),
)
