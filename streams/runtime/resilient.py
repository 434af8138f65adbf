"""A stage's error policy for the database work of one batch.

- A fault of the world (ledger/faults.py: the database unreachable or read-only, a
  missing privilege or column, a full disk) pauses the stage: the batch is retried with
  backoff until it goes through (ledger/retry.py), the stage reports itself blocked
  (streams/runtime/health.py) and commits nothing meanwhile.
- Any other failure may be one record's: the batch is applied one record at a time. A
  record that fails alone while a probe write on the same connection succeeds is proven
  to be at fault. It is returned as poison for the stage to dead-letter
  (streams/runtime/dead_letter.py `DeadLetters.refused`), or, where the stage may not
  drop it (a trade: the ledger must never diverge from the books), the stage stays
  blocked on it and alarms until an operator skips it (`matchstream skip`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from ledger.faults import describe, world_fault
from ledger.pg import Conn, Database, atomically
from ledger.retry import Backoff, probe, transaction
from streams.runtime.health import StageHealth

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

Where = Callable[[T], tuple[str, int, int]]  # an item's topic, partition and offset
Work = Callable[[Conn, Sequence[T]], Awaitable[R]]


class SkippedByOperator(RuntimeError):
    """An operator chose to skip a record the stage could not apply."""


_SKIPPED = ('SELECT reason FROM skipped_records WHERE topic = %s AND "partition" = %s '
            'AND "offset" = %s')


class BatchPolicy(Generic[T]):
    def __init__(self, stage: str, db: Database, health: StageHealth) -> None:
        self.stage = stage
        self.db = db
        self.health = health

    async def apply(self, items: Sequence[T], work: Work, where: Where,
                    may_drop: Callable[[T], bool] = lambda _: True,
                    ) -> tuple[list[R], list[tuple[T, Exception]]]:
        """Results of work over the batch, and the (item, error) pairs proven to be poison.

        A proven poison that may not be dropped blocks the stage until an operator skips
        it; only then is it returned (with SkippedByOperator)."""
        if not items:
            return [], []
        try:
            return [await transaction(self.db, lambda conn: work(conn, items),
                                      self.health)], []
        except Exception as exc:
            log.warning("%s: batch of %d failed (%s); applying one record at a time",
                        self.stage, len(items), describe(exc))
        results: list[R] = []
        poison: list[tuple[T, Exception]] = []
        for item in items:
            applied, outcome = await self._alone(item, work, where(item), may_drop(item))
            if applied:
                results.append(outcome)
            else:
                poison.append((item, outcome))
        return results, poison

    async def _alone(self, item: T, work: Work, where: tuple[str, int, int],
                     may_drop: bool) -> tuple[bool, object]:
        """(True, result) once the item applies; (False, error) once it is proven poison."""
        backoff = Backoff(most=30.0)
        while True:
            try:
                async with self.db.connection() as conn:
                    try:
                        result = await atomically(conn, lambda c: work(c, [item]))
                    except Exception as exc:
                        error = exc
                        reason = world_fault(exc) or await probe(conn, self.stage)
                        if reason is None:  # it fails alone, the database takes writes
                            if may_drop:
                                return False, exc
                            skipped = await self._skipped(conn, where)
                            if skipped is not None:
                                return False, SkippedByOperator(
                                    f"skipped by an operator ({skipped}): {describe(exc)}")
                            reason = "record_refused"
                            self._alarm(where, exc)
                    else:
                        self.health.cleared()
                        return True, result
            except Exception as exc:  # connecting, or the probe's connection, failed
                error = exc
                reason = world_fault(exc) or "database"
            delay = backoff.next()
            self.health.blocked(reason, describe(error), delay)
            await asyncio.sleep(delay)

    async def _skipped(self, conn: Conn, where: tuple[str, int, int]) -> str | None:
        row = await (await conn.execute(_SKIPPED, where)).fetchone()
        return row[0] if row else None

    def _alarm(self, where: tuple[str, int, int], exc: Exception) -> None:
        topic, partition, offset = where
        if self.health.reason != "record_refused":
            log.critical(
                "%s: STOPPED on %s[%d]@%d, which cannot be applied while the database takes "
                "writes: %s. Nothing after it is applied, so the ledger never diverges from "
                "the books. Fix the cause, or skip the record (it becomes a dead letter): "
                "matchstream skip %s %d %d --reason '...'", self.stage, topic, partition,
                offset, describe(exc), topic, partition, offset)
