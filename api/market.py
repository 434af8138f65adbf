"""Market data: the API process's Kafka consumer, REST quote/book/status/candles, WebSocket.

GET /v1/symbols/{symbol}/quote    best bid/ask with sizes, last trade, halt status
GET /v1/symbols/{symbol}/book     L2 depth (?depth=N, default 10)
GET /v1/symbols/{symbol}/status   circuit breaker: halted, halted_until
GET /v1/market/stats              records consumed, subscriptions, slow clients dropped
WS  /v1/ws                        the live feed (api/ws.py)
Quote, book and status come from the in-memory state of api/feed.py.
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import text
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute

from api import ws
from api.common import query_int
from api.errors import not_found
from api.feed import Hub, KafkaFeed

DISPATCH_CHUNK = 8


class Market:
    def __init__(self, app) -> None:
        self.app = app
        self.hub = Hub()
        self.feed: KafkaFeed | None = None
        self.dispatcher: asyncio.Task | None = None
        self._symbols: set[str] = set()
        self._symbols_at = 0.0
        self._lock = asyncio.Lock()

    async def known_symbol(self, symbol: str) -> bool:
        if symbol in self._symbols:
            return True
        async with self._lock:
            if symbol not in self._symbols and time.monotonic() - self._symbols_at > 0.2:
                async with self.app.state.db.connect() as conn:
                    rows = await conn.execute(text("SELECT symbol FROM symbols"))
                    self._symbols = {r[0] for r in rows}
                self._symbols_at = time.monotonic()
        return symbol in self._symbols

    async def db_halted_until(self, symbol: str) -> int:
        async with self.app.state.read_db.connect() as conn:
            value = (await conn.execute(text(
                "SELECT halted_until_ms FROM symbols WHERE symbol = :s"), {"s": symbol})).scalar()
        return value or 0


async def start(app) -> None:
    """Start the one Kafka consumer that fans market data out to every socket."""
    market = Market(app)
    app.state.market = market
    batches: asyncio.Queue = asyncio.Queue()
    market.feed = KafkaFeed(app.state.settings, asyncio.get_running_loop(),
                            batches.put_nowait)
    market.dispatcher = asyncio.create_task(_dispatch(market.hub, batches))
    market.feed.start()


async def _dispatch(hub: Hub, batches: asyncio.Queue) -> None:
    """Hand records to the hub a few at a time, letting the sockets' writers run in
    between: a burst from Kafka is not a reason to call a client slow."""
    while True:
        batch = await batches.get()
        for i in range(0, len(batch), DISPATCH_CHUNK):
            hub.dispatch(batch[i:i + DISPATCH_CHUNK])
            await asyncio.sleep(0)


async def stop(app) -> None:
    market = getattr(app.state, "market", None)
    if market is not None and market.feed is not None:
        await asyncio.to_thread(market.feed.stop)
        market.dispatcher.cancel()


async def _symbol(request) -> tuple[Market, str]:
    """The market and a listed symbol of the path; the API's 404 otherwise."""
    market: Market = request.app.state.market
    symbol = request.path_params["symbol"]
    if not await market.known_symbol(symbol):
        raise not_found("symbol")
    return market, symbol


async def quote(request):
    """Best bid and ask with sizes, the last trade and the halt status (public).
    ---
    summary: Quote of a symbol
    security: []
    parameters:
      - {in: path, name: symbol, required: true, schema: {type: string}}
    responses:
      200: {description: "bid, bid_size, ask, ask_size, last, last_size (cents), halted"}
      404: {description: unknown symbol}
    """
    market, symbol = await _symbol(request)
    data = market.hub.ticker(symbol)
    status = market.hub.status(symbol, await market.db_halted_until(symbol))
    data.update(halted=status["halted"], halted_until=status["halted_until"])
    return JSONResponse(data)


async def book(request):
    """Order book depth: aggregated price levels on each side (public).
    ---
    summary: Order book of a symbol (L2)
    security: []
    parameters:
      - {in: path, name: symbol, required: true, schema: {type: string}}
      - {in: query, name: depth, schema: {type: integer, minimum: 1, maximum: 1000}}
    responses:
      200: {description: "bids and asks: price (cents), quantity, order count"}
      400: {description: bad depth}
      404: {description: unknown symbol}
    """
    market, symbol = await _symbol(request)
    depth = query_int(request, "depth", 10, 1, 1000)
    return JSONResponse(market.hub.depth(symbol, depth))


async def status(request):
    """Circuit breaker state of a symbol (public).
    ---
    summary: Halt status of a symbol
    security: []
    parameters:
      - {in: path, name: symbol, required: true, schema: {type: string}}
    responses:
      200: {description: "halted, halted_until"}
      404: {description: unknown symbol}
    """
    market, symbol = await _symbol(request)
    return JSONResponse(market.hub.status(symbol, await market.db_halted_until(symbol)))


async def stats(request):
    """The feed of this API process: records consumed, subscriptions, slow clients dropped.
    ---
    summary: Market feed statistics
    security: []
    responses:
      200: {description: counters}
    """
    hub = request.app.state.market.hub
    return JSONResponse({"records": hub.records, "channels": len(hub.subs),
                         "subscriptions": sum(len(s) for s in hub.subs.values()),
                         "dropped_slow_subscribers": hub.dropped_subscribers})


routes: list = [
    Route("/v1/market/stats", stats),
    Route("/v1/symbols/{symbol}/quote", quote),
    Route("/v1/symbols/{symbol}/book", book),
    Route("/v1/symbols/{symbol}/status", status),
    WebSocketRoute("/v1/ws", ws.endpoint),
]
