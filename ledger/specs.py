"""Symbol specifications for the matching core, read from the symbols table."""

from __future__ import annotations

from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncConnection

from engine.spec import SymbolSpec

_QUERY = text(
    "SELECT symbol, tick_size, lot_size, max_order_quantity, shares_outstanding, "
    "breaker_band_bps, breaker_window_ms, halt_ms, reference_price FROM symbols "
    "WHERE symbol = :symbol")


async def load_spec(conn: AsyncConnection, symbol: str) -> SymbolSpec | None:
    return _spec((await conn.execute(_QUERY, {"symbol": symbol})).first())


def read_spec(conn: Connection, symbol: str) -> SymbolSpec | None:
    """load_spec on a synchronous connection."""
    return _spec(conn.execute(_QUERY, {"symbol": symbol}).first())


def _spec(row) -> SymbolSpec | None:
    if row is None:
        return None
    return SymbolSpec(symbol=row[0], tick_size=row[1], lot_size=row[2], max_quantity=row[3],
                      shares_outstanding=row[4], band_bps=row[5], window_ms=row[6],
                      halt_ms=row[7], reference_price=row[8])
