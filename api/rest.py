"""REST endpoints: orders, portfolio, trades, symbols, admin. Each module has one job;
this one lists their routes and opens what they share (the Kafka producer and the
synchronous engine the ledger's admin functions need)."""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.routing import Route

from api import admin, errors, metrics, orders, portfolio, queries
from api.lag import LagMonitor
from api.openapi import openapi
from api.producer import OrderProducer
from api.ratelimit import RateLimitMiddleware
from ledger.db import make_engine

routes: list = [
    Route("/openapi.json", openapi, include_in_schema=False),
    Route("/metrics", metrics.metrics),
    Route("/v1/orders", orders.place_order, methods=["POST"]),
    Route("/v1/orders", orders.list_orders, methods=["GET"]),
    Route("/v1/orders/{order_id}", orders.get_order, methods=["GET"]),
    Route("/v1/orders", orders.cancel_all_orders, methods=["DELETE"]),
    Route("/v1/orders/{order_id}", orders.cancel_order, methods=["DELETE"]),
    Route("/v1/portfolio", portfolio.portfolio, methods=["GET"]),
    Route("/v1/trades", portfolio.my_trades, methods=["GET"]),
    Route("/v1/symbols", queries.list_symbols, methods=["GET"]),
    Route("/v1/symbols/{symbol}/trades", queries.symbol_trades, methods=["GET"]),
    Route("/v1/symbols/{symbol}/candles", queries.symbol_candles, methods=["GET"]),
    Route("/v1/admin/accounts", admin.create_account, methods=["POST"]),
    Route("/v1/admin/accounts/{account_id}/adjustments", admin.adjust, methods=["POST"]),
    Route("/v1/admin/symbols", admin.admin_symbols, methods=["GET"]),
    Route("/v1/admin/symbols", admin.add_symbol, methods=["POST"]),
]

exception_handlers = errors.exception_handlers
middleware = [Middleware(metrics.LatencyMiddleware), Middleware(RateLimitMiddleware)]


async def start(app) -> None:
    """Open what the REST endpoints need: the Kafka producer, a small synchronous engine,
    the consumer lag monitor of /metrics."""
    app.state.order_producer = OrderProducer(app.state.settings)
    app.state.lag = LagMonitor(app.state.settings)
    app.state.ledger_engine = make_engine(app.state.settings.database_url, pool_size=2)


async def stop(app) -> None:
    app.state.order_producer.close()
    app.state.ledger_engine.dispose()
