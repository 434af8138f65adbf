"""Engines for the ledger: one for writes, optionally one on a read replica for queries."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def make_engine(url: str, pool_size: int = 5) -> Engine:
    return create_engine(url, pool_size=pool_size, max_overflow=5, pool_pre_ping=True)


def make_async_engine(url: str, pool_size: int = 5, application_name: str = "") -> AsyncEngine:
    """application_name names the connections in pg_stat_activity (e.g. the stage's)."""
    connect_args = {"application_name": application_name} if application_name else {}
    return create_async_engine(url, pool_size=pool_size, max_overflow=5, pool_pre_ping=True,
                               connect_args=connect_args)
