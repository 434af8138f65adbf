"""The workers' connection pool to the ledger, made on first use."""

from __future__ import annotations

import os
from functools import cache

from sqlalchemy.ext.asyncio import AsyncEngine

from infra.settings import load
from ledger.db import make_async_engine


@cache
def engine() -> AsyncEngine:
    # pg_stat_activity shows which stage process holds or waits for what
    name = f"matchstream-{os.environ.get('MATCHSTREAM_STAGE', 'worker')} {os.getpid()}"
    return make_async_engine(load().database_url, application_name=name)
