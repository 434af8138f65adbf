"""The one checkpoint protocol of the Faust stages.

A stage applies batches of input events; what it applied becomes durable in three steps,
each started only once the one before is confirmed:

1. flush: every record the stage produced for those events is on the broker;
2. tables: each table entry due (a book, a candle state, a position) is written to its
   changelog, and the broker has confirmed the write;
3. acknowledge: the input events are acked, so Faust commits their offsets.

A crash between steps replays from the last committed offset, which every stage
tolerates (it is idempotent), and a table never covers an output that was not sent.

When it fires: `due()` after each batch says whether to commit. Settlement and the candles
commit every batch (their work is already durable in PostgreSQL); the matcher every
`interval_s` or `every` commands, from a timer when idle, and at revocation without step 3
(Faust has already dropped its acknowledgements of revoked partitions).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Protocol

from streams.runtime.health import CHECKPOINT_SECONDS
from streams.runtime.output import Output


class Table(Protocol):
    async def write(self, key: bytes, value: bytes | None, partition: int) -> Awaitable: ...


Entry = tuple[Table, bytes, bytes | None, int]  # table, key, value, changelog partition
Entries = Callable[[Sequence], Iterable[Entry]]


class Checkpoint:
    def __init__(self, output: Output, app, entries: Entries,
                 interval_s: float = 0.0, every: int = 0, stage: str = "") -> None:
        """`entries(events)`: the table entries that cover these events, asked at step 2.
        `app`: the Faust app, whose producer writes the changelogs. With `interval_s` and `every`
        at 0 a checkpoint is due after every batch."""
        self._output = output
        self._steps = {step: CHECKPOINT_SECONDS.labels(stage, step)
                       for step in ("flush", "tables", "ack")}
        self._app = app
        self._entries = entries
        self.interval_s = interval_s
        self.every = every
        self._events: list = []
        self._applied = 0  # commands (or events) since the last commit
        self._since = time.monotonic()

    def applied(self, events: Sequence, count: int | None = None) -> None:
        """Events whose effects are applied (not yet durable); `count` of commands."""
        self._events.extend(events)
        self._applied += len(events) if count is None else count

    @property
    def pending(self) -> bool:
        return bool(self._events)

    def due(self) -> bool:
        if self.interval_s <= 0 and self.every <= 0:
            return True
        return ((self.every > 0 and self._applied >= self.every)
                or time.monotonic() - self._since >= self.interval_s)

    def discard(self) -> None:
        """Forget what is pending (partitions revoked: their new owner replays it)."""
        self._events = []
        self._applied = 0

    async def commit(self, ack: bool = True) -> None:
        events, self._events = self._events, []
        self._applied = 0
        self._since = time.monotonic()
        if not events:
            return
        started = time.monotonic()
        await self._output.flush()  # 1
        flushed = time.monotonic()
        self._steps["flush"].observe(flushed - started)
        deliveries = [await table.write(key, value, partition)  # 2
                      for table, key, value, partition in self._entries(events)]
        await self._app.producer.flush()
        for delivery in deliveries:
            await delivery
        written = time.monotonic()
        self._steps["tables"].observe(written - flushed)
        if ack:  # 3
            for event in events:
                event.ack()
            self._steps["ack"].observe(time.monotonic() - written)
