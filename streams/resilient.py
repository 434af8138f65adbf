"""Database work for a batch that survives outages and isolates poison records.

An outage, a deadlock or a serialization failure is retried with backoff, forever:
the batch waits for the database rather than being dropped. Any other failure is a
property of the data: the batch is then applied one record at a time, and the records
that still fail are returned so that the agent dead-letters them and moves on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import psycopg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from streams.database import engine

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

_TRANSIENT = (psycopg.OperationalError, psycopg.errors.SerializationFailure,
              psycopg.errors.DeadlockDetected, psycopg.errors.LockNotAvailable)


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated or isinstance(exc.orig, _TRANSIENT)
    return isinstance(exc, (OSError, ConnectionError, asyncio.TimeoutError))


async def transaction(what: str, work: Callable[[AsyncConnection], Awaitable[R]]) -> R:
    """Run work in one transaction, retrying transient failures until it succeeds."""
    delay = 0.05
    while True:
        try:
            async with engine().begin() as conn:
                return await work(conn)
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.warning("%s: transient failure, retrying in %.2fs: %s", what, delay, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


async def apply_batch(what: str, items: Sequence[T],
                      work: Callable[[AsyncConnection, Sequence[T]], Awaitable[R]],
                      ) -> tuple[list[R], list[tuple[T, Exception]]]:
    """Results of work over the batch, and the (item, error) pairs that cannot be applied."""
    if not items:
        return [], []
    try:
        return [await transaction(what, lambda conn: work(conn, items))], []
    except Exception as exc:
        log.warning("%s: batch of %d failed (%s); applying one record at a time",
                    what, len(items), exc)
    results, poison = [], []
    for item in items:
        try:
            results.append(await transaction(what, lambda conn, one=[item]: work(conn, one)))
        except Exception as exc:
            log.error("%s: record cannot be applied, dead-lettering it: %s", what, exc)
            poison.append((item, exc))
    return results, poison
