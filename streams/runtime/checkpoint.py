"""The one checkpoint protocol of the Faust stages.

A stage applies batches of input events; what it applied becomes durable in four steps,
each started only once the one before is done:

0. capture: the table entries that cover what was applied so far (a book's snapshot, a
   candle state, a position), taken at once, in memory;
1. flush: every record the stage produced up to the capture is on the broker (every
   output of the captured state: outputs are sent as events are applied);
2. tables: the captured entries are written to their changelogs, and the broker has
   confirmed the writes (a long wait is reported as the broker blocking the stage);
3. acknowledge: the captured input events are acked, so Faust commits their offsets.

A crash between steps replays from the last committed offset, which every stage
tolerates (it is idempotent), and a table never covers an output that was not sent.

When it fires: `due()` after each batch says whether to capture: every `interval_s` for
settlement and the candles (a replay of theirs is idempotent), every `interval_s` or
`every` commands for the matcher (whose entries hold only the books then due, and an
index that says where to replay the others from). Each stage also commits from a timer
when idle, and at revocation without step 3 (Faust has already dropped its
acknowledgements of revoked partitions). The matcher and the candles capture only
between batches, under their batch lock; the matcher completes steps 1-3 while the next
batches run, so the broker's waits do not stall matching; completions run one at a time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from streams.runtime.health import CHECKPOINT_SECONDS
from streams.runtime.output import FLUSH_REPORT_S, Mark, Output

log = logging.getLogger("matchstream.checkpoint")


class Table(Protocol):
    async def write(self, key: bytes, value: bytes | None, partition: int) -> Awaitable: ...


Entry = tuple[Table, bytes, bytes | None, int]  # table, key, value, changelog partition
Entries = Callable[[Sequence], Iterable[Entry]]


@dataclass(frozen=True, slots=True)
class Captured:
    events: list  # the input events the entries cover
    entries: list[Entry]
    outputs: Mark  # the records sent for them


class Checkpoint:
    def __init__(self, output: Output, app, entries: Entries,
                 interval_s: float = 0.0, every: int = 0, stage: str = "") -> None:
        """`entries(events)`: the table entries that cover these events, asked at step 2.
        `app`: the Faust app, whose producer writes the changelogs. With `interval_s` and `every`
        at 0 a checkpoint is due after every batch."""
        self._output = output
        self._stage = stage
        self._steps = {step: CHECKPOINT_SECONDS.labels(stage, step)
                       for step in ("capture", "flush", "tables", "ack")}
        self._completing = asyncio.Lock()  # one completion at a time
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

    def capture(self, without_events: bool = False) -> Captured | None:
        """Step 0, synchronous: what is applied so far and the entries that cover it;
        events applied after it belong to the next checkpoint. None when there is nothing
        to write: no events, unless `without_events` (the matcher's snapshots that come
        due while no input does)."""
        events, self._events = self._events, []
        self._applied = 0
        self._since = time.monotonic()
        if not events and not without_events:
            return None
        started = time.monotonic()
        entries = list(self._entries(events))
        self._steps["capture"].observe(time.monotonic() - started)
        if not events and not entries:
            return None
        return Captured(events, entries, self._output.mark())

    async def complete(self, captured: Captured,
                       ack: bool | Callable[[], bool] = True) -> None:
        """Steps 1-3 for a capture, once no other completion runs. `ack` may be asked at
        step 3 (e.g. whether the partitions are still this worker's)."""
        async with self._completing:
            started = time.monotonic()
            await self._output.delivered(captured.outputs)  # 1
            flushed = time.monotonic()
            self._steps["flush"].observe(flushed - started)
            deliveries = [await table.write(key, value, partition)  # 2
                          for table, key, value, partition in captured.entries]
            await self._confirmed(deliveries)
            written = time.monotonic()
            self._steps["tables"].observe(written - flushed)
            if ack() if callable(ack) else ack:  # 3
                for event in captured.events:
                    event.ack()
                self._steps["ack"].observe(time.monotonic() - written)

    async def _confirmed(self, deliveries: list[Awaitable]) -> None:
        """Until the broker has confirmed the changelog writes. A wait of FLUSH_REPORT_S
        or more is reported as the broker blocking the stage (logs, metrics), as a wait for
        outputs is."""
        async def confirm() -> None:
            await self._app.producer.flush()
            for delivery in deliveries:
                await delivery

        confirming = asyncio.ensure_future(confirm())
        health = self._output.health
        waited = 0.0
        try:
            while not (await asyncio.wait([confirming], timeout=FLUSH_REPORT_S))[0]:
                waited += FLUSH_REPORT_S
                if health is not None:
                    health.blocked("broker", f"changelog writes not confirmed after "
                                   f"{waited:.0f}s", FLUSH_REPORT_S)
        finally:
            if not confirming.done():
                confirming.cancel()  # this checkpoint was cancelled
        if waited and health is not None:
            health.cleared()
        confirming.result()

    async def commit(self, ack: bool = True, without_events: bool = False) -> None:
        """All four steps now."""
        captured = self.capture(without_events)
        if captured is not None:
            await self.complete(captured, ack)

    async def commit_at_revocation(self) -> None:
        """Steps 0-2 for what is pending, which is then forgotten: Faust has already dropped
        its acknowledgements of the revoked partitions. A failure is logged, not raised:
        the partitions' new owner replays from their last commit, so nothing is lost."""
        try:
            await self.commit(ack=False)
        except Exception:
            log.exception("%s: checkpoint at revocation failed", self._stage)
        self.discard()
