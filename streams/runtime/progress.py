"""Guard against records a consumer never saw.

Faust's offset bookkeeping can skip records across a rebalance or restart (seen in
this project's crash tests; see faust-streaming issues #221 and #312), and seeking its
consumer back does not reliably bring them again. Each agent therefore keeps its own
position per partition, never ahead of what it applied. A record beyond that position
means records in between were skipped: the guard reads them straight from Kafka with a
consumer of its own and puts them, in order, before the record that revealed the gap.
Every consumer is idempotent, so a record that Faust delivers again later is harmless.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from confluent_kafka import Consumer, TopicPartition

log = logging.getLogger(__name__)

Key = tuple[str, int]
FETCH_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class FetchedMessage:
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class FetchedEvent:
    """Shaped like the Faust events the agents use: key, value, message, ack()."""

    key: bytes | None
    value: bytes | None
    message: FetchedMessage

    def ack(self) -> bool:
        return True  # Faust never delivered it, so there is nothing of Faust's to ack


def fetch_range(bootstrap: str, topic: str, partition: int, start: int,
                end: int) -> list[FetchedEvent]:
    """Records [start, end) of one partition, read directly (blocking: run in a thread)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"gap-{uuid.uuid4()}",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    try:
        consumer.assign([TopicPartition(topic, partition, start)])
        out: list[FetchedEvent] = []
        while not out or out[-1].message.offset < end - 1:
            msg = consumer.poll(FETCH_TIMEOUT_S)
            if msg is None:
                raise RuntimeError(f"{topic}[{partition}]: records {start}..{end - 1} "
                                   "could not be read back")
            if msg.error():
                continue
            if msg.offset() >= end:
                break
            out.append(FetchedEvent(msg.key(), msg.value(),
                                    FetchedMessage(topic, partition, msg.offset())))
        return out
    finally:
        consumer.close()


class PositionGuard:
    def __init__(self, name: str, bootstrap: str,
                 load: Callable[[dict[Key, int]], Awaitable[dict[Key, int]]]) -> None:
        """`load(first)`: the stored positions of partitions not known yet, given the
        first offset delivered in each."""
        self.name = name
        self.bootstrap = bootstrap
        self._load = load
        self.expected: dict[Key, int] = {}

    def forget(self) -> None:
        """After a rebalance another worker may have moved on: read positions again."""
        self.expected.clear()

    async def admit(self, events: Sequence) -> list:
        """The events to apply, in order, with any skipped records put back in front."""
        first: dict[Key, int] = {}
        for e in events:
            key = (e.message.topic, e.message.partition)
            if key not in self.expected and key not in first:
                first[key] = e.message.offset
        if first:
            self.expected.update(await self._load(first))
        admitted: list = []
        for event in events:
            key = (event.message.topic, event.message.partition)
            expected = self.expected.get(key)
            offset = event.message.offset
            if expected is not None and offset > expected:
                log.warning("%s: %s[%d] skipped %d..%d; reading them back", self.name,
                            key[0], key[1], expected, offset - 1)
                admitted += await asyncio.to_thread(fetch_range, self.bootstrap, key[0],
                                                    key[1], expected, offset)
            self.expected[key] = max(expected or 0, offset + 1)
            admitted.append(event)
        return admitted

    @staticmethod
    def positions(events: Sequence) -> dict[Key, int]:
        """Next offset per partition after these events: what to store once applied."""
        out: dict[Key, int] = {}
        for e in events:
            key = (e.message.topic, e.message.partition)
            out[key] = max(out.get(key, 0), e.message.offset + 1)
        return out
