"""The Starlette app: its Kafka producer and database engine live in the lifespan."""

from __future__ import annotations

import contextlib

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from api.health import health
from infra.settings import load
from ledger.db import make_async_engine


@contextlib.asynccontextmanager
async def lifespan(app: Starlette):
    settings = load()
    app.state.settings = settings
    app.state.db = make_async_engine(settings.database_url)
    app.state.read_db = (make_async_engine(settings.read_database_url)
                         if settings.read_database_url else app.state.db)
    try:
        yield
    finally:
        await app.state.db.dispose()


async def index(request):
    return JSONResponse({"service": "matchstream", "health": "/health"})


def create_app() -> Starlette:
    return Starlette(routes=[Route("/", index), Route("/health", health)], lifespan=lifespan)


app = create_app()
