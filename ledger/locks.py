"""Balances locked for update, shared by the gate and settlement.

Lock order, the same for every writer so concurrent ones never deadlock: accounts,
then holdings, then orders, each sorted by key.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass(slots=True)
class AccountState:
    cash: int
    reserved_cash: int


@dataclass(slots=True)
class HoldingState:
    quantity: int
    reserved_quantity: int
    cost_basis: int = 0


async def lock_accounts(conn: AsyncConnection, ids: set[str]) -> dict[str, AccountState]:
    rows = await conn.execute(text(
        "SELECT account_id, cash, reserved_cash FROM accounts WHERE account_id = ANY(:ids) "
        "ORDER BY account_id FOR UPDATE"), {"ids": sorted(ids)})
    return {r[0]: AccountState(r[1], r[2]) for r in rows}


async def lock_holdings(conn: AsyncConnection,
                        keys: set[tuple[str, str]]) -> dict[tuple[str, str], HoldingState]:
    if not keys:
        return {}
    accounts, symbols = zip(*sorted(keys))
    rows = await conn.execute(text(
        "SELECT h.account_id, h.symbol, h.quantity, h.reserved_quantity, h.cost_basis "
        "FROM holdings h "
        "JOIN unnest(CAST(:a AS text[]), CAST(:s AS text[])) AS k(a, s) "
        "ON h.account_id = k.a AND h.symbol = k.s "
        "ORDER BY h.account_id, h.symbol FOR UPDATE OF h"),
        {"a": list(accounts), "s": list(symbols)})
    return {(r[0], r[1]): HoldingState(r[2], r[3], r[4]) for r in rows}
