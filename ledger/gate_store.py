"""The gate's reads and writes in PostgreSQL, inside the caller's transaction.

Rows are locked in the order shared with settlement (ledger/locks.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.locks import AccountState, HoldingState
from ledger.positions import OPEN
from risk.rules import SymbolRules

OPEN_STATUSES = OPEN  # the open statuses of ledger/positions.py


@dataclass(frozen=True, slots=True)
class OrderRow:
    order_id: str
    account_id: str
    symbol: str
    side: str
    order_type: str
    tif: str
    quantity: int
    price: int | None
    status: str
    reject_reason: str | None
    source_partition: int | None
    source_offset: int | None
    created_ms: int


async def load_symbols(conn: AsyncConnection) -> dict[str, SymbolRules]:
    rows = await conn.execute(text(
        "SELECT symbol, tick_size, lot_size, max_order_quantity, shares_outstanding, "
        "coalesce(last_price, reference_price), halted_until_ms FROM symbols"))
    return {r[0]: SymbolRules(*r) for r in rows}


async def open_buy_quantities(conn: AsyncConnection,
                              keys: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    if not keys:
        return {}
    accounts, symbols = zip(*sorted(keys))
    rows = await conn.execute(text(
        "SELECT o.account_id, o.symbol, sum(o.quantity - o.filled_quantity - o.cancelled_quantity) "
        "FROM orders o JOIN unnest(CAST(:a AS text[]), CAST(:s AS text[])) AS k(a, s) "
        "ON o.account_id = k.a AND o.symbol = k.s "
        "WHERE o.side = 'BUY' AND o.status = ANY(:open) GROUP BY o.account_id, o.symbol"),
        {"a": list(accounts), "s": list(symbols), "open": list(OPEN_STATUSES)})
    return {(r[0], r[1]): int(r[2]) for r in rows}


async def find_orders(conn: AsyncConnection, ids: set[str]) -> dict[str, OrderRow]:
    if not ids:
        return {}
    rows = await conn.execute(text(
        "SELECT order_id, account_id, symbol, side, order_type, tif, quantity, price, status, "
        "reject_reason, source_partition, source_offset, created_ms "
        "FROM orders WHERE order_id = ANY(:ids)"), {"ids": sorted(ids)})
    return {r[0]: OrderRow(*r) for r in rows}


async def apply_reservations(conn: AsyncConnection, accounts: dict[str, AccountState],
                             holdings: dict[tuple[str, str], HoldingState],
                             touched_accounts: set[str],
                             touched_holdings: set[tuple[str, str]]) -> None:
    """Write back the balances the batch changed, set-based, in lock order."""
    if touched_accounts:
        ids = sorted(touched_accounts)
        await conn.execute(text(
            "UPDATE accounts a SET cash = v.cash, reserved_cash = v.reserved "
            "FROM unnest(CAST(:ids AS text[]), CAST(:cash AS bigint[]), "
            "CAST(:reserved AS bigint[])) AS v(id, cash, reserved) WHERE a.account_id = v.id"),
            {"ids": ids, "cash": [accounts[i].cash for i in ids],
             "reserved": [accounts[i].reserved_cash for i in ids]})
    if touched_holdings:
        keys = sorted(touched_holdings)
        await conn.execute(text(
            "UPDATE holdings h SET quantity = v.q, reserved_quantity = v.r "
            "FROM unnest(CAST(:a AS text[]), CAST(:s AS text[]), CAST(:q AS bigint[]), "
            "CAST(:r AS bigint[])) AS v(a, s, q, r) WHERE h.account_id = v.a AND h.symbol = v.s"),
            {"a": [k[0] for k in keys], "s": [k[1] for k in keys],
             "q": [holdings[k].quantity for k in keys],
             "r": [holdings[k].reserved_quantity for k in keys]})


_ORDER_COLUMNS = (("order_id", "text"), ("account_id", "text"), ("symbol", "text"),
                  ("side", "text"), ("order_type", "text"), ("tif", "text"),
                  ("quantity", "bigint"), ("price", "bigint"), ("status", "text"),
                  ("reject_reason", "text"), ("reserved_cash", "bigint"),
                  ("reserved_quantity", "bigint"), ("source_partition", "int"),
                  ("source_offset", "bigint"), ("created_ms", "bigint"))

# one statement for the whole batch (arrays), rather than a row at a time
INSERT_ORDERS = text(
    "INSERT INTO orders (" + ", ".join(c for c, _ in _ORDER_COLUMNS) + ", updated_ms) "
    "SELECT *, created_ms FROM unnest("
    + ", ".join(f"CAST(:{c} AS {t}[])" for c, t in _ORDER_COLUMNS)
    + ") AS v(" + ", ".join(c for c, _ in _ORDER_COLUMNS) + ") "
    "ON CONFLICT (order_id) DO NOTHING RETURNING 1")


async def insert_orders(conn: AsyncConnection, rows: list[dict]) -> int:
    """How many of the rows were inserted (an order id recorded already is not)."""
    if not rows:
        return 0
    result = await conn.execute(INSERT_ORDERS,
                                {c: [r[c] for r in rows] for c, _ in _ORDER_COLUMNS})
    return len(result.all())
