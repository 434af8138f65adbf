"""The caller's portfolio and trade history, from the ledger (read engine)."""

from __future__ import annotations

from sqlalchemy import or_, select, tuple_
from starlette.responses import JSONResponse

from api.common import account_of, decode_cursor, limit, money, page, query_text
from ledger.positions import average_cost
from ledger.tables import accounts, holdings, symbols, trades


async def portfolio(request):
    """Cash and holdings valued at the last price (a holding with no shares, sold out or
    only counting open buys, is not listed).
    ---
    summary: The caller's portfolio (money as integer cents and decimal strings)
    responses:
      200: {description: "cash, reserved cash, holdings with average cost, market value, P&L"}
    """
    account = await account_of(request)
    async with request.app.state.read_db.connect() as conn:
        acct = (await conn.execute(select(accounts.c.cash, accounts.c.reserved_cash)
                                   .where(accounts.c.account_id == account))).one()
        rows = (await conn.execute(
            select(holdings.c.symbol, holdings.c.quantity, holdings.c.reserved_quantity,
                   holdings.c.cost_basis, symbols.c.last_price, symbols.c.reference_price)
            .join(symbols, symbols.c.symbol == holdings.c.symbol)
            .where(holdings.c.account_id == account,
                   holdings.c.quantity + holdings.c.reserved_quantity > 0)
            .order_by(holdings.c.symbol))).all()
    positions = [holding_view(r) for r in rows]
    value = sum(p["market_value"]["cents"] for p in positions)
    cost = sum(p["cost_basis"]["cents"] for p in positions)
    return JSONResponse({
        "account_id": account, "cash": money(acct.cash), "reserved_cash": money(acct.reserved_cash),
        "holdings": positions, "market_value": money(value), "unrealised_pnl": money(value - cost),
        "equity": money(acct.cash + acct.reserved_cash + value)})


def holding_view(r) -> dict:
    position = r.quantity + r.reserved_quantity
    last = r.last_price if r.last_price is not None else r.reference_price
    value = position * last
    return {"symbol": r.symbol, "quantity": r.quantity, "reserved_quantity": r.reserved_quantity,
            "average_cost": money(average_cost(r.cost_basis, position)),
            "cost_basis": money(r.cost_basis), "last_price": money(last),
            "market_value": money(value), "unrealised_pnl": money(value - r.cost_basis)}


async def my_trades(request):
    """The caller's trades, newest first: its side only, never the counterparty.
    ---
    summary: The caller's trades
    parameters:
      - {in: query, name: symbol, schema: {type: string}}
      - {in: query, name: limit, schema: {type: integer, minimum: 1, maximum: 500}}
      - {in: query, name: cursor, schema: {type: string}}
    responses:
      200: {description: "items and next_cursor (null on the last page)"}
      400: {description: bad filter or cursor}
    """
    account = await account_of(request)
    symbol = query_text(request, "symbol", 16)
    size, cursor = limit(request), decode_cursor(request)
    query = select(trades).where(or_(trades.c.buyer == account, trades.c.seller == account))
    if symbol is not None:
        query = query.where(trades.c.symbol == symbol)
    if cursor is not None:
        query = query.where(tuple_(trades.c.executed_ms, trades.c.trade_id) < tuple_(*cursor))
    query = query.order_by(trades.c.executed_ms.desc(), trades.c.trade_id.desc()).limit(size + 1)
    async with request.app.state.read_db.connect() as conn:
        rows = (await conn.execute(query)).all()
    return JSONResponse(page([_my_side(t, account) for t in rows], size, "executed_ms", "trade_id"))


def _my_side(t, account: str) -> dict:
    side = "BUY" if t.buyer == account else "SELL"
    return {"trade_id": t.trade_id, "symbol": t.symbol, "seq": t.seq, "side": side,
            "order_id": t.buy_order_id if side == "BUY" else t.sell_order_id,
            "price": money(t.price), "quantity": t.quantity,
            "value": money(t.price * t.quantity),
            "liquidity": "TAKER" if t.aggressor == side else "MAKER",
            "executed_ms": t.executed_ms}
