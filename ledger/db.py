"""SQLAlchemy engines for the ledger (the API, admin commands, reconcile, the matcher's specs):
one for writes, optionally one on a read replica for queries. The stages' hot path uses
psycopg directly (ledger/pg.py)."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def make_engine(url: str, pool_size: int = 5) -> Engine:
    return create_engine(url, pool_size=pool_size, max_overflow=5, pool_pre_ping=True)


def make_async_engine(url: str, pool_size: int = 5) -> AsyncEngine:
    return create_async_engine(url, pool_size=pool_size, max_overflow=5, pool_pre_ping=True)
