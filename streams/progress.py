"""Guard against records a consumer never saw.

Faust's offset bookkeeping can commit past records across a rebalance (prefetched
records and gap filling: faust-streaming issues #221, #312). Each agent therefore keeps
its own position per partition, never ahead of what it applied: a record beyond that
position means records in between were skipped, so the agent drops what follows in
the batch and seeks back to its position; they come again and are applied in order.
Every consumer is idempotent, so records delivered twice are harmless.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from faust.types import TP

log = logging.getLogger(__name__)

Key = tuple[str, int]

RESEEK_AFTER_S = 5.0  # records fetched before a seek keep arriving for a while


class PositionGuard:
    def __init__(self, name: str, load: Callable[[set[Key]], Awaitable[dict[Key, int]]]) -> None:
        self.name = name
        self._load = load
        self.expected: dict[Key, int] = {}
        self.seeking: dict[Key, float] = {}  # partition -> when we last sought back

    def forget(self) -> None:
        """After a rebalance another worker may have moved on: read positions again."""
        self.expected.clear()
        self.seeking.clear()

    async def admit(self, consumer, events: Sequence) -> list:
        """The events to apply, in order; seeks back where records were skipped."""
        keys = {(e.message.topic, e.message.partition) for e in events}
        unknown = keys - self.expected.keys()
        if unknown:
            self.expected.update(await self._load(unknown))
        admitted, gaps = [], {}
        now = time.monotonic()
        for event in events:
            key = (event.message.topic, event.message.partition)
            if key in gaps:
                continue
            expected = self.expected.get(key)
            offset = event.message.offset
            if expected is not None and offset > expected:
                if now - self.seeking.get(key, 0.0) > RESEEK_AFTER_S:
                    gaps[key] = expected
                    self.seeking[key] = now
                continue
            self.seeking.pop(key, None)
            self.expected[key] = max(expected or 0, offset + 1)
            admitted.append(event)
        for (topic, partition), offset in gaps.items():
            log.warning("%s: %s[%d] skipped ahead of %d; seeking back to it",
                        self.name, topic, partition, offset)
            await consumer.seek_wait({TP(topic, partition): offset})
        return admitted

    @staticmethod
    def positions(events: Sequence) -> dict[Key, int]:
        """Next offset per partition after these events: what to store once applied."""
        out: dict[Key, int] = {}
        for e in events:
            key = (e.message.topic, e.message.partition)
            out[key] = max(out.get(key, 0), e.message.offset + 1)
        return out
