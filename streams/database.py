"""The workers' connection pool to the ledger, made on first use."""

from __future__ import annotations

from functools import cache

from sqlalchemy.ext.asyncio import AsyncEngine

from infra.settings import load
from ledger.db import make_async_engine


@cache
def engine() -> AsyncEngine:
    return make_async_engine(load().database_url)
