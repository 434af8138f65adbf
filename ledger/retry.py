"""Database work that waits out faults of the world: the retry policy of the ledger.

`transaction` runs work in one transaction on the stage's connection (ledger/pg.py) and,
on a fault of the world (ledger/faults.py), rolls back, tells `waiting` why and retries
with backoff, forever: a stage waits for its database rather than dropping or
dead-lettering what it holds. Any other error is raised to the caller, whose error
policy decides. `call` does the same for synchronous SQLAlchemy work (the matcher's).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from sqlalchemy import Engine

from ledger.faults import describe, world_fault
from ledger.pg import Conn, Database, atomically

R = TypeVar("R")

FIRST_DELAY_S = 0.05
MAX_DELAY_S = 5.0


class Waiting(Protocol):
    """Who hears that work is waiting on the world, and that it went through again."""

    def blocked(self, reason: str, detail: str, retry_in: float) -> None: ...

    def cleared(self) -> None: ...


class Backoff:
    def __init__(self, first: float = FIRST_DELAY_S, most: float = MAX_DELAY_S) -> None:
        self.delay, self.most = first, most

    def next(self) -> float:
        delay = self.delay
        self.delay = min(self.delay * 2, self.most)
        return delay


async def transaction(db: Database, work: Callable[[Conn], Awaitable[R]],
                      waiting: Waiting) -> R:
    """work(conn) in one transaction, retried while the world is at fault."""
    backoff = Backoff()
    while True:
        try:
            async with db.connection() as conn:
                result = await atomically(conn, work)
        except Exception as exc:
            await asyncio.sleep(_delay_after(exc, backoff, waiting))
            continue
        waiting.cleared()
        return result


def call(engine: Engine, work: Callable, waiting: Waiting):
    """work(conn) on a synchronous connection, retried while the world is at fault."""
    backoff = Backoff()
    while True:
        try:
            with engine.connect() as conn:
                result = work(conn)
        except Exception as exc:
            time.sleep(_delay_after(exc, backoff, waiting))
            continue
        waiting.cleared()
        return result


def _delay_after(exc: Exception, backoff: Backoff, waiting: Waiting) -> float:
    """How long to wait before the next try, once `waiting` is told why; exc itself when it
    is not the world's fault."""
    reason = world_fault(exc)
    if reason is None:
        raise exc
    delay = backoff.next()
    waiting.blocked(reason, describe(exc), delay)
    return delay


_PROBE = ("INSERT INTO stage_heartbeats (stage, beat_ms) VALUES (%s, %s) "
          "ON CONFLICT (stage) DO UPDATE SET beat_ms = excluded.beat_ms")


async def probe(conn: Conn, stage: str) -> str | None:
    """A small write transaction on conn: None if the database takes writes, else why not."""
    try:
        await atomically(conn, lambda c: c.execute(_PROBE, (stage, int(time.time() * 1000))))
    except Exception as exc:
        return world_fault(exc) or "database"
    return None
