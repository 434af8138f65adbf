"""The gate's reads and writes in PostgreSQL, inside the caller's transaction.

Sent in the transaction's pipeline (ledger/pg.py): a read answers later (Pending), the
orders insert is only sent. Rows are locked in the order shared with settlement
(ledger/locks.py).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from ledger.arrays import int8s, texts
from ledger.pg import Conn, Pending, send


@dataclass(frozen=True, slots=True)
class OrderRow:
    """An order as the gate records it and finds it again: the columns of `orders` it
    writes, by name."""

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
    reserved_cash: int = 0
    reserved_quantity: int = 0
    post_only: bool = False


# OrderRow's fields, with their column types
_ORDER_COLUMNS = (("order_id", "text"), ("account_id", "text"), ("symbol", "text"),
                  ("side", "text"), ("order_type", "text"), ("tif", "text"),
                  ("quantity", "bigint"), ("price", "bigint"), ("status", "text"),
                  ("reject_reason", "text"), ("source_partition", "int"),
                  ("source_offset", "bigint"), ("created_ms", "bigint"),
                  ("reserved_cash", "bigint"), ("reserved_quantity", "bigint"),
                  ("post_only", "bool"))
assert tuple(c for c, _ in _ORDER_COLUMNS) == tuple(f.name for f in fields(OrderRow))

_FIND_ORDERS = ("SELECT " + ", ".join(c for c, _ in _ORDER_COLUMNS)
                + " FROM orders WHERE order_id = ANY(%b::text[])")

# one statement for the whole batch; no ON CONFLICT: an id another gate recorded
# meanwhile is a unique violation of orders_pkey, the arbiter (ledger/faults.py)
_INSERT_ORDERS = (
    "INSERT INTO orders (" + ", ".join(c for c, _ in _ORDER_COLUMNS) + ", updated_ms) "
    "SELECT *, created_ms FROM unnest("
    + ", ".join(f"%b::{t}[]" for _, t in _ORDER_COLUMNS)
    + ") AS v(" + ", ".join(c for c, _ in _ORDER_COLUMNS) + ")")


async def find_orders(conn: Conn, ids: set[str]) -> Pending[dict[str, OrderRow]]:
    return await send(conn, _FIND_ORDERS, (texts(sorted(ids)),),
                      lambda rows: {r[0]: OrderRow(*r) for r in rows}, when=bool(ids))


_FIND_HOMES = ("SELECT symbol, home_partition FROM symbols WHERE symbol IN "
               "(SELECT symbol FROM orders WHERE order_id = ANY(%b::text[]))")


async def find_homes(conn: Conn, ids: set[str]) -> Pending[dict[str, int]]:
    """symbol -> home partition of the symbols of these orders (those a cancel names)."""
    return await send(conn, _FIND_HOMES, (texts(sorted(ids)),), dict, when=bool(ids))


# how each column's values are sent (bool[]: few values, psycopg's own dumper)
_ARRAY = {"text": texts, "bigint": int8s, "int": int8s, "bool": list}


_FIND_OPEN_SYMBOLS = (
    "SELECT DISTINCT o.account_id, o.symbol, s.home_partition FROM orders o "
    "JOIN symbols s ON s.symbol = o.symbol WHERE o.account_id = ANY(%b::text[]) "
    "AND o.status IN ('ACCEPTED', 'PARTIALLY_FILLED')")


async def find_open_symbols(conn: Conn, accounts: set[str]
                            ) -> Pending[list[tuple[str, str, int]]]:
    """(account, symbol, the symbol's home partition) where the accounts have orders open."""
    return await send(conn, _FIND_OPEN_SYMBOLS, (texts(sorted(accounts)),), list,
                      when=bool(accounts))


async def insert_orders(conn: Conn, rows: list[OrderRow]) -> None:
    """Record the orders (the transaction fails at COMMIT if an id is recorded already)."""
    if rows:
        await conn.execute(_INSERT_ORDERS, tuple(
            _ARRAY[t]([getattr(r, c) for r in rows]) for c, t in _ORDER_COLUMNS))
