"""The stage process's connection to the ledger (ledger/pg.py), made on first use."""

from __future__ import annotations

import os
from functools import cache

from infra.settings import load
from ledger.pg import Database


@cache
def database() -> Database:
    # pg_stat_activity shows which stage process holds or waits for what
    name = f"matchstream-{os.environ.get('MATCHSTREAM_STAGE', 'worker')} {os.getpid()}"
    return Database(load().database_url, application_name=name)
