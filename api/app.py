"""The Starlette app: its Kafka producer, consumer and database engines live in the lifespan."""

from __future__ import annotations

import contextlib

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from api import market, redact, rest, screen
from api.health import HealthCheck, health
from infra.settings import load
from ledger.db import make_async_engine


@contextlib.asynccontextmanager
async def lifespan(app: Starlette):
    settings = load()
    app.state.settings = settings
    app.state.db = make_async_engine(settings.database_url)
    # reads may go to a replica (CQRS); writes never do
    app.state.read_db = (make_async_engine(settings.read_database_url)
                         if settings.read_database_url else app.state.db)
    app.state.health = HealthCheck(settings, app.state.db)
    await rest.start(app)
    await market.start(app)
    try:
        yield
    finally:
        await market.stop(app)
        await rest.stop(app)
        if app.state.read_db is not app.state.db:
            await app.state.read_db.dispose()
        await app.state.db.dispose()


async def index(request):
    return JSONResponse({"service": "matchstream", "health": "/health",
                         "openapi": "/openapi.json", "screen": "/screen/"})


def create_app() -> Starlette:
    redact.install()
    routes = [Route("/", index), Route("/health", health), *rest.routes, *market.routes,
              *screen.routes]
    return Starlette(routes=routes, lifespan=lifespan, middleware=rest.middleware,
                     exception_handlers=rest.exception_handlers)


app = create_app()
