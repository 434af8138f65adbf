"""Market data from the ledger: symbols, a symbol's recent trades, closed candles."""

from __future__ import annotations

from sqlalchemy import select
from starlette.responses import JSONResponse

from api.common import INT64, limit, money, principal, query_int, query_text
from api.errors import bad_request, not_found
from ledger.tables import candles, symbols, trades
from schemas.records import MAX_SYMBOL_LENGTH, text_ok

INTERVALS = ("1m", "5m", "1h", "1d")


async def list_symbols(request):
    """Every listed symbol with its trading rules and last price.
    ---
    summary: Listed symbols
    responses:
      200: {description: the symbols}
    """
    await principal(request)
    return await symbol_list(request)


async def symbol_list(request) -> JSONResponse:
    """Every listed symbol (the caller's credential is checked by the caller)."""
    async with request.app.state.read_db.connect() as conn:
        rows = (await conn.execute(select(symbols).order_by(symbols.c.symbol))).all()
    return JSONResponse({"items": [symbol_view(r) for r in rows]})


def symbol_view(r) -> dict:
    return {"symbol": r.symbol, "name": r.name, "tick_size": money(r.tick_size),
            "lot_size": r.lot_size, "max_order_quantity": r.max_order_quantity,
            "shares_outstanding": r.shares_outstanding,
            "reference_price": money(r.reference_price),
            "last_price": money(r.last_price) if r.last_price is not None else None,
            "halted_until_ms": r.halted_until_ms}


async def symbol_trades(request):
    """A symbol's most recent trades (public: no accounts, no order ids).
    ---
    summary: Recent trades of a symbol
    parameters:
      - {in: path, name: symbol, required: true, schema: {type: string}}
      - {in: query, name: limit, schema: {type: integer, minimum: 1, maximum: 500}}
    responses:
      200: {description: "trades, newest first"}
      404: {description: unknown symbol}
    """
    await principal(request)
    symbol = await _known_symbol(request)
    async with request.app.state.read_db.connect() as conn:
        rows = (await conn.execute(
            select(trades.c.trade_id, trades.c.seq, trades.c.price, trades.c.quantity,
                   trades.c.aggressor, trades.c.executed_ms)
            .where(trades.c.symbol == symbol).order_by(trades.c.seq.desc())
            .limit(limit(request)))).all()
    return JSONResponse({"symbol": symbol, "items": [
        {"trade_id": t.trade_id, "seq": t.seq, "price": money(t.price), "quantity": t.quantity,
         "aggressor": t.aggressor, "executed_ms": t.executed_ms} for t in rows]})


async def symbol_candles(request):
    """Closed OHLCV candles of a symbol, oldest first.
    ---
    summary: Candles of a symbol
    parameters:
      - {in: path, name: symbol, required: true, schema: {type: string}}
      - {in: query, name: interval, schema: {type: string, enum: [1m, 5m, 1h, 1d]}}
      - {in: query, name: from, schema: {type: integer, minimum: 0}, description: "start ms, inclusive"}
      - {in: query, name: to, schema: {type: integer, minimum: 0}, description: "start ms, exclusive"}
      - {in: query, name: limit, schema: {type: integer, minimum: 1, maximum: 500}}
    responses:
      200: {description: candles}
      400: {description: bad interval or range}
      404: {description: unknown symbol}
    """
    await principal(request)
    symbol = await _known_symbol(request)
    interval = query_text(request, "interval", 4) or "1m"
    if interval not in INTERVALS:
        raise bad_request(f"interval must be one of {', '.join(INTERVALS)}")
    start = query_int(request, "from", 0)
    end = query_int(request, "to", INT64)
    async with request.app.state.read_db.connect() as conn:
        rows = (await conn.execute(
            select(candles).where(candles.c.symbol == symbol, candles.c.interval == interval,
                                  candles.c.start_ms >= start, candles.c.start_ms < end)
            .order_by(candles.c.start_ms).limit(limit(request)))).all()
    return JSONResponse({"symbol": symbol, "interval": interval, "items": [
        {"start_ms": c.start_ms, "open": money(c.open), "high": money(c.high),
         "low": money(c.low), "close": money(c.close), "volume": c.volume, "trades": c.trades}
        for c in rows]})


async def _known_symbol(request) -> str:
    symbol = request.path_params["symbol"]
    if text_ok(symbol, MAX_SYMBOL_LENGTH):
        async with request.app.state.read_db.connect() as conn:
            if (await conn.execute(select(symbols.c.symbol)
                                   .where(symbols.c.symbol == symbol))).first():
                return symbol
    raise not_found("symbol")
