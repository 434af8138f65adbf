"""The stages' connection to the ledger: psycopg 3, one long-lived connection per process.

A transaction runs in pipeline mode, so statements that do not wait on each other's
results share a round trip: BEGIN goes out with the work's first statements, COMMIT with
its last, and the work waits only where it reads rows. The connection is in autocommit
mode so that psycopg sends no BEGIN of its own (in pipeline mode that costs a round
trip): BEGIN and COMMIT are the ones sent here.

SQLAlchemy stays for the schema, the API and the admin commands.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Generic, TypeVar

import psycopg
from psycopg import errors, pq
from psycopg.conninfo import conninfo_to_dict

from ledger import arrays
from ledger.faults import ARBITER_KEYS, RetryBatch

arrays.register()  # large array parameters packed in one pass (ledger/arrays.py)

R = TypeVar("R")
T = TypeVar("T")
Conn = psycopg.AsyncConnection

CONNECT_TIMEOUT_S = 10

# Every statement of a stage finds its rows by key. Left to its statistics, the planner
# scans or hashes whole tables: a prepared statement's plan made while a table was nearly
# empty (a fresh day, a fresh database) is kept after the table has grown (the gate's
# order look-up scanned all of `orders` for every batch, ~1 s a batch after 30 s at
# 1,000/s), and a batch that is a few percent of a table makes a hash join look cheaper.
# With those plans ruled out a prepared statement's generic plan is the right one, so it
# is planned once per connection, not at each run (0.1-0.3 ms a statement, ~1 ms a
# gate batch). JIT off: a plan priced with a disabled node (the symbols scan) would be
# compiled, 150 ms.
KEYED_ACCESS = ("-c enable_seqscan=off -c enable_hashjoin=off -c enable_mergejoin=off "
                "-c plan_cache_mode=force_generic_plan -c jit=off")


def conninfo(url: str) -> str:
    """libpq's form of a SQLAlchemy URL (postgresql+psycopg://...)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


class Database:
    """One connection, made on first use and again once it breaks; one task at a time."""

    def __init__(self, url: str, application_name: str = "") -> None:
        self.conninfo = conninfo(url)
        self.application_name = application_name
        given = conninfo_to_dict(self.conninfo).get("options")  # a URL's own are kept
        self.options = f"{given} {KEYED_ACCESS}" if given else KEYED_ACCESS
        self._conn: Conn | None = None
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Conn]:
        """The connection, outside any transaction, to the caller alone until the block ends."""
        async with self._lock:
            if self._conn is None:
                self._conn = await Conn.connect(self.conninfo, autocommit=True,
                                                connect_timeout=CONNECT_TIMEOUT_S,
                                                application_name=self.application_name,
                                                options=self.options)
            conn = self._conn
            try:
                yield conn
            finally:
                if conn.closed or conn.info.transaction_status != pq.TransactionStatus.IDLE:
                    self._conn = None  # broken, or left inside a transaction: a new one
                    await conn.close()

    async def close(self) -> None:
        async with self._lock:
            if self._conn is not None:
                await self._conn.close()
                self._conn = None


async def atomically(conn: Conn, work: Callable[[Conn], Awaitable[R]]) -> R:
    """work(conn) between BEGIN and COMMIT, in pipeline mode; rolled back if anything fails.

    A unique violation on an arbiter key (ledger/faults.py) is raised as RetryBatch."""
    try:
        async with conn.pipeline():
            await conn.execute(b"BEGIN")
            result = await work(conn)
            await conn.execute(b"COMMIT")
    except BaseException as exc:
        await _rollback(conn)
        if (isinstance(exc, errors.UniqueViolation)
                and exc.diag.constraint_name in ARBITER_KEYS):
            raise RetryBatch(f"another writer recorded a row first ({exc.diag.message_detail})"
                             ) from exc
        raise
    return result


async def _rollback(conn: Conn) -> None:
    if conn.closed:
        return
    try:
        await conn.rollback()
    except Exception:
        await conn.close()  # Database.connection makes a new one


class Pending(Generic[T]):
    """The answer to a statement sent in the pipeline, once read: the first read waits for
    every statement sent before it (one round trip), the later ones find theirs there."""

    __slots__ = ("_cursor", "_make")

    def __init__(self, cursor: psycopg.AsyncCursor | None,
                 make: Callable[[list[tuple]], T]) -> None:
        self._cursor, self._make = cursor, make

    async def result(self) -> T:
        return self._make(await self._cursor.fetchall() if self._cursor is not None else [])


async def send(conn: Conn, sql: str, params: tuple[Any, ...],
               make: Callable[[list[tuple]], T], when: bool = True) -> Pending[T]:
    """Send sql, read its rows later; when `when` is false (nothing to ask) send nothing
    and read no rows."""
    return Pending(await conn.execute(sql, params) if when else None, make)
