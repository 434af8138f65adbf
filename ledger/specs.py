"""The one reader of the symbols table: its columns, and a row -> SymbolSpec.

The API (async SQLAlchemy), the matcher (sync SQLAlchemy) and the gate (psycopg, in its
transaction's pipeline) read through the wrappers below, which differ only in how they
send SELECT_SPECS.
"""

from __future__ import annotations

import logging
from dataclasses import fields

from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncConnection

from engine.spec import SymbolSpec
from ledger.arrays import texts
from ledger.pg import Conn, Pending, send

log = logging.getLogger("matchstream.specs")

# SymbolSpec field -> symbols column, in the field order (a row is passed positionally)
COLUMNS = {"symbol": "symbol", "tick_size": "tick_size", "lot_size": "lot_size",
           "max_order_quantity": "max_order_quantity",
           "shares_outstanding": "shares_outstanding", "band_bps": "breaker_band_bps",
           "window_ms": "breaker_window_ms", "halt_ms": "halt_ms",
           "reference_price": "reference_price", "last_price": "last_price",
           "halted_until_ms": "halted_until_ms", "home_partition": "home_partition"}
assert tuple(COLUMNS) == tuple(f.name for f in fields(SymbolSpec))
SELECT_SPECS = "SELECT " + ", ".join(COLUMNS.values()) + " FROM symbols"
_ONE = text(SELECT_SPECS + " WHERE symbol = :symbol")


def spec_of(row) -> SymbolSpec:
    return SymbolSpec(*row)


async def load_spec(conn: AsyncConnection, symbol: str) -> SymbolSpec | None:
    row = (await conn.execute(_ONE, {"symbol": symbol})).first()
    return None if row is None else spec_of(row)


def read_spec(conn: Connection, symbol: str) -> SymbolSpec | None:
    """load_spec on a synchronous connection."""
    row = conn.execute(_ONE, {"symbol": symbol}).first()
    return None if row is None else spec_of(row)


_SOME = SELECT_SPECS + " WHERE symbol = ANY(%b::text[])"


async def load_specs(conn: Conn, wanted: set[str]) -> Pending[dict[str, SymbolSpec]]:
    """The specs of these symbols (an unknown one is left out), sent in the pipeline
    (ledger/pg.py)."""
    return await send(conn, _SOME, (texts(sorted(wanted)),), _by_symbol, when=bool(wanted))


def _by_symbol(rows: list[tuple]) -> dict[str, SymbolSpec]:
    specs = {}
    for row in rows:
        try:
            specs[row[0]] = spec_of(row)
        except ValueError:  # breaker columns have no CHECK: such a symbol cannot trade
            log.error("symbol %r has an invalid row and is treated as unknown", row[0])
    return specs
