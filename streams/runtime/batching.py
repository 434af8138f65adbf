"""Batches that grow with the load: intake runs while the previous batch is processed.

Faust's `take_events` stops taking new events while the agent works on a batch, so a
batch only holds what arrives in its short `within` window: a few events, whatever the
backlog, and every per-batch cost (a transaction, a flush) is paid for each few. Here
the agent's loop only queues events; a task of its own processes everything queued
so far as one batch (at most `max_size`), so batches are large exactly when the
stage is behind and small (low latency) when it is not.

Faust hands the agent one event per turn of the event loop (its stream awaits
`sleep(0)` before each), so a batch task that started as soon as one event was queued
would take one event at a time however long the backlog. Before taking a batch the
task therefore yields to the loop while the queue still grows: each yield costs a turn
of the loop, not a timer, so a lone event is processed at once and a backlog Faust
already holds comes in whole (up to `max_size`).

The process function acknowledges what it has made durable (event.ack()); the agent
iterates a `noack()` stream so nothing else does.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

Process = Callable[[list], Awaitable[Any]]
GATHER_IDLE_TURNS = 6  # Faust takes 2-3 turns an event: 6 quiet turns end the gathering


class Batcher:
    def __init__(self, name: str, process: Process, max_size: int,
                 pause_s: float = 0.0) -> None:
        self.name = name
        self._process = process
        self.max_size = max_size
        self.pause_s = pause_s  # after each batch: trades latency for bigger batches
        self._queue: deque = deque()
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._task: asyncio.Task | None = None

    async def put(self, event) -> None:
        """Queue one event; waits while the backlog is full (back-pressure on intake)."""
        if self._task is None or self._task.done():
            self._raise_if_failed()
            self._task = asyncio.create_task(self._run(), name=f"{self.name}-batches")
        self._queue.append(event)
        self._ready.set()
        if len(self._queue) >= 2 * self.max_size:
            self._room.clear()
            await self._room.wait()

    def drop(self, keep: Callable[[Any], bool]) -> None:
        """Forget queued events that fail `keep` (e.g. of partitions revoked)."""
        kept = [e for e in self._queue if keep(e)]
        self._queue.clear()
        self._queue.extend(kept)

    def _raise_if_failed(self) -> None:
        if self._task is not None and self._task.done() and not self._task.cancelled():
            exc = self._task.exception()
            if exc is not None:
                raise exc

    async def _run(self) -> None:
        while True:
            await self._ready.wait()
            await self._gather()
            batch = _take(self._queue, self.max_size)
            if not self._queue:
                self._ready.clear()
            if len(self._queue) < 2 * self.max_size:
                self._room.set()
            if batch:
                try:
                    await self._process(batch)
                except Exception:
                    log.exception("%s: batch of %d failed; the worker stops", self.name,
                                  len(batch))
                    self._room.set()
                    raise
                if self.pause_s:
                    await asyncio.sleep(self.pause_s)

    async def _gather(self) -> None:
        """Yield to the loop while events keep arriving, until `max_size` are queued."""
        idle_turns = 0
        while idle_turns < GATHER_IDLE_TURNS and len(self._queue) < self.max_size:
            queued = len(self._queue)
            await asyncio.sleep(0)
            idle_turns = idle_turns + 1 if len(self._queue) == queued else 0


def _take(queue: deque, limit: int) -> list:
    return [queue.popleft() for _ in range(min(limit, len(queue)))]
