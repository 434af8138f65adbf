"""Balances locked for update and written back, shared by the gate and settlement.

Lock order, the same for every writer so concurrent ones never deadlock: accounts,
then holdings, then orders, each sorted by key and each table in one statement per
transaction (a second statement would take its keys out of order with the first's).
The statements go out in the transaction's pipeline (ledger/pg.py): a lock answers
later (Pending), a write is only sent, and fails the transaction at its COMMIT if it
fails.
"""

from __future__ import annotations

from collections.abc import Iterable

from ledger.arrays import int8s, texts
from ledger.effects import AccountState, HoldingState
from ledger.pg import Conn, Pending, send

_LOCK_ACCOUNTS = ("SELECT account_id, cash, reserved_cash FROM accounts "
                  "WHERE account_id = ANY(%b::text[]) ORDER BY account_id FOR UPDATE")

_LOCK_HOLDINGS = (
    "SELECT h.account_id, h.symbol, h.quantity, h.reserved_quantity, h.cost_basis, "
    "h.open_buy_quantity "
    "FROM holdings h JOIN unnest(%b::text[], %b::text[]) AS k(a, s) "
    "ON h.account_id = k.a AND h.symbol = k.s "
    "ORDER BY h.account_id, h.symbol FOR UPDATE OF h")

_WRITE_ACCOUNTS = (
    "UPDATE accounts a SET cash = v.c, reserved_cash = v.r "
    "FROM unnest(%b::text[], %b::bigint[], %b::bigint[]) AS v(id, c, r) "
    "WHERE a.account_id = v.id")

_INSERT_HOLDINGS = (
    "INSERT INTO holdings (account_id, symbol, quantity, reserved_quantity, cost_basis, "
    "open_buy_quantity) SELECT * FROM unnest(%b::text[], %b::text[], %b::bigint[], "
    "%b::bigint[], %b::bigint[], %b::bigint[])")

_WRITE_HOLDINGS = (
    "UPDATE holdings h SET quantity = v.q, reserved_quantity = v.r, cost_basis = v.c, "
    "open_buy_quantity = v.b "
    "FROM unnest(%b::text[], %b::text[], %b::bigint[], %b::bigint[], %b::bigint[], "
    "%b::bigint[]) AS v(a, s, q, r, c, b) WHERE h.account_id = v.a AND h.symbol = v.s")


def accounts_of(rows: list[tuple]) -> dict[str, AccountState]:
    """(account_id, cash, reserved_cash) rows."""
    return {r[0]: AccountState(r[1], r[2]) for r in rows}


def holdings_of(rows: list[tuple]) -> dict[tuple[str, str], HoldingState]:
    """(account_id, symbol, quantity, reserved_quantity, cost_basis, open_buy_quantity) rows."""
    return {(r[0], r[1]): HoldingState(r[2], r[3], r[4], r[5]) for r in rows}


async def lock_accounts(conn: Conn, ids: Iterable[str]) -> Pending[dict[str, AccountState]]:
    ordered = sorted(set(ids))
    return await send(conn, _LOCK_ACCOUNTS, (ordered,), accounts_of, when=bool(ordered))


async def lock_holdings(conn: Conn, keys: Iterable[tuple[str, str]]
                        ) -> Pending[dict[tuple[str, str], HoldingState]]:
    ordered = sorted(set(keys))
    return await send(conn, _LOCK_HOLDINGS, ([k[0] for k in ordered], [k[1] for k in ordered]),
                      holdings_of, when=bool(ordered))


async def write_accounts(conn: Conn, accounts: dict[str, AccountState],
                         ids: Iterable[str]) -> None:
    """Write back the locked accounts named by ids."""
    ordered = sorted(ids)
    if ordered:
        await conn.execute(_WRITE_ACCOUNTS, (
            texts(ordered), int8s([accounts[i].cash for i in ordered]),
            int8s([accounts[i].reserved_cash for i in ordered])))


async def write_holdings(conn: Conn, holdings: dict[tuple[str, str], HoldingState],
                         keys: Iterable[tuple[str, str]], new: bool = False) -> None:
    """Write back the locked holdings named by keys; with new, insert them (a holding is
    only ever made under its account's lock, so none can have appeared since)."""
    ordered = sorted(keys)
    if ordered:
        states = [holdings[k] for k in ordered]
        await conn.execute(_INSERT_HOLDINGS if new else _WRITE_HOLDINGS, (
            texts([k[0] for k in ordered]), texts([k[1] for k in ordered]),
            int8s([h.quantity for h in states]), int8s([h.reserved_quantity for h in states]),
            int8s([h.cost_basis for h in states]), int8s([h.open_buys for h in states])))
