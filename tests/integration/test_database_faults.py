"""Faults of the database pause the stages that meet them; they never cost a record.

A database-wide error (read-only after a failover, unreachable) is no record's fault:
the stage reports itself blocked (matchstream_stage_blocked{stage,reason}), commits
nothing, retries, and applies everything once the database is back.
"""

from __future__ import annotations

import asyncio
import os
import signal

from sqlalchemy import text

from infra import postgres
from infra.settings import DATABASE_USER
from ledger.db import make_async_engine
from ledger.faults import world_fault
from ledger.pg import Database, atomically
from tests.faults import read_only_database, stage_pid, stopped
from tests.integration.test_bad_input import alice_and_bob, cash, order, status_of, wait_status
from tests.platform import Platform, wait_for

WAIT = 60


async def _error_of(url: str, sql: str, read_only: bool = False) -> Exception:
    """Through SQLAlchemy (the API's and the matcher's way)."""
    engine = make_async_engine(url)
    try:
        async with engine.begin() as conn:
            if read_only:
                await conn.execute(text("SET TRANSACTION READ ONLY"))
            await conn.execute(text(sql))
    except Exception as exc:
        return exc
    finally:
        await engine.dispose()
    raise AssertionError(f"no error from {sql!r}")


async def _stage_error_of(url: str, sql: str, read_only: bool = False) -> Exception:
    """Through the stages' psycopg connection, in pipeline mode (ledger/pg.py)."""
    async def work(conn):
        if read_only:
            await conn.execute("SET TRANSACTION READ ONLY")
        await conn.execute(sql)

    db = Database(url)
    try:
        async with db.connection() as conn:
            await atomically(conn, work)
    except Exception as exc:
        return exc
    finally:
        await db.close()
    raise AssertionError(f"no error from {sql!r}")


def test_world_faults_are_told_from_a_records_faults(platform):
    """The classification, on errors the real server raises."""
    p = platform
    url = p.settings.database_url
    p.account("bob", cash=100)
    with p.db.begin() as conn:
        conn.execute(text("DROP ROLE IF EXISTS outsider"))
        conn.execute(text("CREATE ROLE outsider LOGIN"))
    outsider = url.replace(f"//{DATABASE_USER}@", "//outsider@")
    closed_port = url.replace(f":{p.settings.pg_port}/", ":1/")

    def fault(sql: str, db: str = url, read_only: bool = False) -> str | None:
        found = {world_fault(asyncio.run(error_of(db, sql, read_only)))
                 for error_of in (_error_of, _stage_error_of)}
        assert len(found) == 1, f"{sql!r} is told apart differently by the two ways: {found}"
        return found.pop()

    assert fault("UPDATE accounts SET cash = 0", read_only=True) == "read_only"
    assert fault("SELECT * FROM accounts", db=outsider) == "permission"
    assert fault("SELECT no_such_column FROM accounts") == "schema"
    assert fault("SELECT 1", db=closed_port) == "unreachable"
    # what a record's values can cause: its own fault (still to be proven alone)
    assert fault("UPDATE accounts SET cash = -1") is None  # CHECK constraint
    assert fault("SELECT CAST('a' || chr(0) AS text)") is None  # NUL in text
    assert fault("SELECT CAST(9223372036854775807 AS bigint) + 1") is None  # out of range
    with p.db.begin() as conn:
        conn.execute(text("DROP ROLE outsider"))


def _blocked(p: Platform, worker, stage: str, reason: str) -> float | None:
    return p.worker_metric(worker, "matchstream_stage_blocked", stage=stage, reason=reason)


def test_a_read_only_database_pauses_gate_and_settlement_and_loses_nothing(platform):
    p = platform
    worker, feed = alice_and_bob(p)
    p.wait_ready(worker)
    settlement = stage_pid(worker, "settlement")
    os.kill(settlement, signal.SIGSTOP)  # so that a trade waits for it while read-only
    p.send("order-requests", b"alice", order("s1", "alice", "ACME", "SELL", 10, 10_000))
    p.send("order-requests", b"bob", order("b1", "bob", "ACME", "BUY", 10, 10_000))
    p.flush()
    feed.status("b1", "FILLED")
    with read_only_database(p.settings):
        os.kill(settlement, signal.SIGCONT)
        p.send("order-requests", b"bob", order("b2", "bob", "ACME", "BUY", 5, 9_000))
        p.flush()
        for stage in ("gate", "settlement"):
            wait_for(lambda stage=stage: _blocked(p, worker, stage, "read_only") == 1,
                     WAIT, f"the {stage} stage reported blocked (read_only)", feed.logs)
        assert worker.poll() is None
        assert status_of(p, "b2") is None and p.scalar("SELECT count(*) FROM trades") == 0
    for order_id, status in (("s1", "FILLED"), ("b1", "FILLED"), ("b2", "ACCEPTED")):
        wait_status(p, feed, order_id, status)
    for stage in ("gate", "settlement"):
        wait_for(lambda stage=stage: _blocked(p, worker, stage, "read_only") == 0,
                 WAIT, f"the {stage} stage unblocked", feed.logs)
    assert feed.all_dead_letters() == []
    assert cash(p, "bob") == (10_000_000 - 100_000 - 45_000, 45_000)
    p.assert_reconciled()


def test_the_matcher_waits_for_an_unreachable_database(platform):
    """A book's spec is read when its first command arrives: the database may be away."""
    p = platform
    worker, feed = alice_and_bob(p)
    p.wait_ready(worker)
    with stopped(stage_pid(worker, "matcher")):
        p.send("order-requests", b"alice", order("s1", "alice", "ACME", "SELL", 10, 10_000))
        p.send("order-requests", b"bob", order("b1", "bob", "ACME", "BUY", 10, 10_000))
        p.flush()
        for order_id in ("s1", "b1"):
            wait_status(p, feed, order_id, "ACCEPTED")
        postgres.stop(p.settings, say=lambda *_: None)
    try:
        wait_for(lambda: _blocked(p, worker, "matcher", "unreachable") == 1, WAIT,
                 "the matcher reported blocked (unreachable)", feed.logs)
        assert worker.poll() is None, "the worker exited while the database was away"
    finally:
        postgres.start(p.settings, say=lambda *_: None)
    for order_id in ("s1", "b1"):
        wait_status(p, feed, order_id, "FILLED")
    assert worker.poll() is None
    p.assert_reconciled()
