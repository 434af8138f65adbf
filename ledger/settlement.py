"""Settlement of trades and release of reservations, one transaction per batch.

Idempotent: a trade is settled only if its row was inserted by this transaction
(trade_id is the key), and an order's remainder is released only once (its
cancelled_quantity is set once). Rows are locked in the shared order of ledger/locks.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from engine.enums import Reject
from ledger.locks import AccountState, HoldingState, lock_accounts, lock_holdings
from ledger.positions import cost_after_sale, order_status, transition
from schemas.records import OrderEvent, Trade


class SettlementError(RuntimeError):
    pass


@dataclass(slots=True)
class Order:
    order_id: str
    account_id: str
    symbol: str
    side: str
    quantity: int
    price: int
    filled: int
    cancelled: int
    reserved_cash: int
    reserved_quantity: int
    status: str
    reject_reason: str | None


_INSERT_TRADES = text(
    "INSERT INTO trades (trade_id, symbol, seq, price, quantity, buy_order_id, sell_order_id, "
    "buyer, seller, aggressor, executed_ms) "
    "SELECT * FROM unnest(CAST(:trade_id AS text[]), CAST(:symbol AS text[]), "
    "CAST(:seq AS bigint[]), CAST(:price AS bigint[]), CAST(:quantity AS bigint[]), "
    "CAST(:buy AS text[]), CAST(:sell AS text[]), CAST(:buyer AS text[]), "
    "CAST(:seller AS text[]), CAST(:aggressor AS text[]), CAST(:ts AS bigint[])) "
    "ON CONFLICT (trade_id) DO NOTHING RETURNING trade_id")


async def settle_trades(conn: AsyncConnection, trades: list[Trade]) -> int:
    """Settle the trades not settled before; returns how many were new."""
    unique = sorted({t.trade_id: t for t in trades}.values(), key=lambda t: (t.symbol, t.seq))
    if not unique:
        return 0
    result = await conn.execute(_INSERT_TRADES, {
        "trade_id": [t.trade_id for t in unique], "symbol": [t.symbol for t in unique],
        "seq": [t.seq for t in unique], "price": [t.price for t in unique],
        "quantity": [t.quantity for t in unique], "buy": [t.buy_order_id for t in unique],
        "sell": [t.sell_order_id for t in unique], "buyer": [t.buyer for t in unique],
        "seller": [t.seller for t in unique], "aggressor": [t.aggressor for t in unique],
        "ts": [t.ts for t in unique]})
    inserted = {row[0] for row in result}
    new = [t for t in unique if t.trade_id in inserted]
    if not new:
        return 0
    accounts = await lock_accounts(conn, {a for t in new for a in (t.buyer, t.seller)})
    keys = {(t.buyer, t.symbol) for t in new} | {(t.seller, t.symbol) for t in new}
    await conn.execute(text(
        "INSERT INTO holdings (account_id, symbol) SELECT * FROM unnest(CAST(:a AS text[]), "
        "CAST(:s AS text[])) ORDER BY 1, 2 ON CONFLICT DO NOTHING"),
        {"a": [k[0] for k in sorted(keys)], "s": [k[1] for k in sorted(keys)]})
    holdings = await lock_holdings(conn, keys)
    orders = await _lock_orders(conn, {o for t in new for o in (t.buy_order_id, t.sell_order_id)})
    last_prices: dict[str, tuple[int, int]] = {}
    for t in new:
        buy, sell = orders.get(t.buy_order_id), orders.get(t.sell_order_id)
        if buy is None or sell is None:
            raise SettlementError(f"trade {t.trade_id} names an order the ledger does not have")
        cost = t.price * t.quantity
        held_for_it = buy.price * t.quantity  # reserved at the limit (or MARKET collar) price
        buyer, seller = accounts[t.buyer], accounts[t.seller]
        buyer.reserved_cash -= held_for_it
        buyer.cash += held_for_it - cost  # price improvement goes back to the buyer
        seller.cash += cost
        sold = holdings[(t.seller, t.symbol)]
        sold.cost_basis = cost_after_sale(sold.cost_basis,
                                          sold.quantity + sold.reserved_quantity, t.quantity)
        sold.reserved_quantity -= t.quantity
        bought = holdings[(t.buyer, t.symbol)]
        bought.quantity += t.quantity
        bought.cost_basis += cost
        buy.filled += t.quantity
        buy.reserved_cash -= held_for_it
        sell.filled += t.quantity
        sell.reserved_quantity -= t.quantity
        for order in (buy, sell):
            order.status = transition(order.status, order_status(
                order.quantity, order.filled, order.cancelled, order.status == "REJECTED"))
        last_prices[t.symbol] = (t.seq, t.price)
    await _write_accounts(conn, accounts)
    await _write_holdings(conn, holdings)
    await _write_orders(conn, orders)
    await conn.execute(text(
        "UPDATE symbols s SET last_price = v.price, last_trade_seq = v.seq "
        "FROM unnest(CAST(:sym AS text[]), CAST(:seq AS bigint[]), CAST(:price AS bigint[])) "
        "AS v(sym, seq, price) WHERE s.symbol = v.sym AND s.last_trade_seq < v.seq"),
        {"sym": list(last_prices), "seq": [v[0] for v in last_prices.values()],
         "price": [v[1] for v in last_prices.values()]})
    return len(new)


async def release_remainders(conn: AsyncConnection, events: list[OrderEvent]) -> int:
    """Give back what cancelled or matcher-rejected orders still hold reserved."""
    wanted = {e.order_id: e for e in events
              if e.seq > 0 and e.status in ("CANCELLED", "REJECTED")
              and e.reason != Reject.DUPLICATE_ORDER_ID}
    if not wanted:
        return 0
    peek = await conn.execute(text(
        "SELECT order_id, account_id, symbol, side FROM orders WHERE order_id = ANY(:ids)"),
        {"ids": sorted(wanted)})
    owners = list(peek)
    accounts = await lock_accounts(conn, {r[1] for r in owners})
    holdings = await lock_holdings(conn, {(r[1], r[2]) for r in owners if r[3] == "SELL"})
    orders = await _lock_orders(conn, {r[0] for r in owners})
    released = 0
    for order_id, event in wanted.items():
        order = orders.get(order_id)
        if order is None or order.cancelled:
            continue  # unknown to the ledger, or released before (a replay)
        rejected = event.status == "REJECTED"
        remaining = order.quantity - order.filled if rejected else event.remaining_quantity
        if remaining <= 0 or remaining > order.quantity - order.filled:
            raise SettlementError(f"order {order_id}: cannot release {remaining} of "
                                  f"{order.quantity} with {order.filled} filled")
        if order.side == "BUY":
            amount = remaining * order.price
            account = accounts[order.account_id]
            account.reserved_cash -= amount
            account.cash += amount
            order.reserved_cash -= amount
        else:
            holding = holdings[(order.account_id, order.symbol)]
            holding.reserved_quantity -= remaining
            holding.quantity += remaining
            order.reserved_quantity -= remaining
        order.cancelled = remaining
        order.status = transition(order.status, order_status(order.quantity, order.filled,
                                                             remaining, rejected))
        if rejected:
            order.reject_reason = event.reason
        released += 1
    await _write_accounts(conn, accounts)
    await _write_holdings(conn, holdings)
    await _write_orders(conn, orders)
    return released


async def apply_halt(conn: AsyncConnection, symbol: str, halted: bool, ts: int,
                     until_ts: int) -> None:
    if halted:
        await conn.execute(text("UPDATE symbols SET halted_until_ms = greatest(halted_until_ms, "
                                ":until) WHERE symbol = :s"), {"until": until_ts, "s": symbol})
    else:
        await conn.execute(text("UPDATE symbols SET halted_until_ms = least(halted_until_ms, :ts) "
                                "WHERE symbol = :s"), {"ts": ts, "s": symbol})


# -- locking reads and set-based writes ------------------------------------------------

async def _lock_orders(conn: AsyncConnection, ids: set[str]) -> dict[str, Order]:
    rows = await conn.execute(text(
        "SELECT order_id, account_id, symbol, side, quantity, price, filled_quantity, "
        "cancelled_quantity, reserved_cash, reserved_quantity, status, reject_reason "
        "FROM orders WHERE order_id = ANY(:ids) ORDER BY order_id FOR UPDATE"),
        {"ids": sorted(ids)})
    return {r[0]: Order(*r) for r in rows}


async def _write_accounts(conn: AsyncConnection, accounts: dict[str, AccountState]) -> None:
    if accounts:
        ids = sorted(accounts)
        await conn.execute(text(
            "UPDATE accounts a SET cash = v.c, reserved_cash = v.r FROM unnest("
            "CAST(:ids AS text[]), CAST(:c AS bigint[]), CAST(:r AS bigint[])) AS v(id, c, r) "
            "WHERE a.account_id = v.id"),
            {"ids": ids, "c": [accounts[i].cash for i in ids],
             "r": [accounts[i].reserved_cash for i in ids]})


async def _write_holdings(conn: AsyncConnection,
                          holdings: dict[tuple[str, str], HoldingState]) -> None:
    if holdings:
        keys = sorted(holdings)
        await conn.execute(text(
            "UPDATE holdings h SET quantity = v.q, reserved_quantity = v.r, cost_basis = v.c "
            "FROM unnest(CAST(:a AS text[]), CAST(:s AS text[]), CAST(:q AS bigint[]), "
            "CAST(:r AS bigint[]), CAST(:c AS bigint[])) AS v(a, s, q, r, c) "
            "WHERE h.account_id = v.a AND h.symbol = v.s"),
            {"a": [k[0] for k in keys], "s": [k[1] for k in keys],
             "q": [holdings[k].quantity for k in keys],
             "r": [holdings[k].reserved_quantity for k in keys],
             "c": [holdings[k].cost_basis for k in keys]})


async def _write_orders(conn: AsyncConnection, orders: dict[str, Order]) -> None:
    if orders:
        rows = [orders[k] for k in sorted(orders)]
        await conn.execute(text(
            "UPDATE orders o SET filled_quantity = v.f, cancelled_quantity = v.c, "
            "reserved_cash = v.rc, reserved_quantity = v.rq, status = v.st, "
            "reject_reason = v.rr, updated_ms = (extract(epoch from clock_timestamp()) * 1000)::bigint "
            "FROM unnest(CAST(:ids AS text[]), CAST(:f AS bigint[]), CAST(:c AS bigint[]), "
            "CAST(:rc AS bigint[]), CAST(:rq AS bigint[]), CAST(:st AS text[]), "
            "CAST(:rr AS text[])) AS v(id, f, c, rc, rq, st, rr) WHERE o.order_id = v.id"),
            {"ids": [o.order_id for o in rows], "f": [o.filled for o in rows],
             "c": [o.cancelled for o in rows], "rc": [o.reserved_cash for o in rows],
             "rq": [o.reserved_quantity for o in rows], "st": [o.status for o in rows],
             "rr": [o.reject_reason for o in rows]})
