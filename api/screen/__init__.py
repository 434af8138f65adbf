"""The trading screen: static HTML/JS/CSS under /screen/ and the one public list it needs.

The page reads everything else from the public API (/v1/...) and /v1/ws, like any
client. /screen/symbols exists because /v1/symbols needs a token, while a visitor who
has not signed in may still watch the market (quote, book and the feed are public).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from api.common import money
from ledger.tables import symbols

STATIC = Path(__file__).parent / "static"


async def public_symbols(request):
    async with request.app.state.read_db.connect() as conn:
        rows = (await conn.execute(select(symbols.c.symbol, symbols.c.name, symbols.c.tick_size)
                                   .order_by(symbols.c.symbol))).all()
    return JSONResponse({"items": [{"symbol": r.symbol, "name": r.name,
                                    "tick_size": money(r.tick_size)} for r in rows]})


async def to_screen(request):
    return RedirectResponse("/screen/")


# the route before the mount: the mount would take /screen/symbols as a file name
routes: list = [
    Route("/screen/symbols", public_symbols, include_in_schema=False),
    Route("/screen", to_screen, include_in_schema=False),
    Mount("/screen", app=StaticFiles(directory=STATIC, html=True), name="screen"),
]
