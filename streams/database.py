"""The workers' connection pool to the ledger, made on first use."""

from __future__ import annotations

from functools import cache

from sqlalchemy.ext.asyncio import AsyncEngine

from ledger.db import make_async_engine
from infra.settings import load


@cache
def engine() -> AsyncEngine:
    return make_async_engine(load().database_url)
