"""Guard against records Faust never delivered.

Upstream: https://github.com/faust-streaming/faust/issues/221 and /issues/312;
  faust/transport/consumer.py `Consumer._new_offset` (with nothing committed, or with
  only the record at the committed offset unacknowledged, it commits past unacknowledged
  records) and `Consumer._drain_messages` (offsets skipped in delivery become a gap,
  committed as if done)
Checked against: faust-streaming 0.15.3

Faust's offset bookkeeping can skip records across a rebalance or restart (seen in this
project's crash tests), and seeking its consumer back does not reliably bring them again.
Each agent therefore keeps its own position per partition, never ahead of what it applied.
A record beyond that position means records in between were skipped: the guard reads them
straight from Kafka with a consumer of its own and puts them, in order, before the record
that revealed the gap. Every consumer is idempotent, so a record that Faust delivers again
later is harmless.

A skipped record with none after it reveals no gap: `TailWatch` finds partitions where
Faust has delivered nothing for a while though the partition holds records past the
position (the agent's, else its group's committed offset), so that the agent reads them
straight from Kafka too.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence

from confluent_kafka import Consumer, TopicPartition

from streams.runtime.events import FetchedEvent, FetchedMessage

log = logging.getLogger(__name__)

Key = tuple[str, int]
FETCH_TIMEOUT_S = 30.0


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
            if not out and msg.offset() > start:
                log.warning("%s[%d]: records %d..%d are no longer in the topic (retention)",
                            topic, partition, start, min(msg.offset(), end) - 1)
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
        first offset delivered in each. A partition without one is read from its start:
        Faust may deliver it from past records no one applied (with nothing committed
        yet, it commits acknowledgements that do not start at the partition's first
        record), and nothing else would tell."""
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
            stored = await self._load(first)
            self.expected.update({key: stored.get(key, 0) for key in first})
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


def to_read(keys, positions: Mapping[Key, int], ends: Mapping[Key, int]
            ) -> dict[Key, tuple[int, int]]:
    """[position, end) of each partition whose end is past its position."""
    return {key: (positions[key], ends[key]) for key in keys
            if key in positions and key in ends and ends[key] > positions[key]}


class TailWatch:
    """Partitions of one consumer group where records wait that Faust has not delivered."""

    def __init__(self, name: str, bootstrap: str, group: str, quiet_s: float = 5.0) -> None:
        self.name = name
        self.quiet_s = quiet_s
        self.quiet_since: dict[Key, float] = {}  # partition -> last delivery (or assignment)
        self._config = {"bootstrap.servers": bootstrap, "group.id": group,
                        "enable.auto.commit": False}
        self._consumer: Consumer | None = None  # made at the first check: never joins

    def delivered(self, keys) -> None:
        now = time.monotonic()
        for key in keys:
            self.quiet_since[key] = now

    def forget(self, keep: Callable[[Key], bool]) -> None:
        self.quiet_since = {k: v for k, v in self.quiet_since.items() if keep(k)}

    def due(self) -> bool:
        now = time.monotonic()
        return any(now - since >= self.quiet_s for since in self.quiet_since.values())

    def ranges(self, expected: Mapping[Key, int]) -> dict[Key, tuple[int, int]]:
        """Blocking (run in a thread): what to read back, from the broker's ends and the
        positions (`expected`, else the group's committed offsets)."""
        now = time.monotonic()
        # a copy: the event loop's thread adds partitions meanwhile
        quiet = [k for k, since in list(self.quiet_since.items())
                 if now - since >= self.quiet_s]
        if not quiet:
            return {}
        for key in quiet:  # checked now: next in quiet_s, unless records come meanwhile
            self.quiet_since[key] = now
        if self._consumer is None:
            self._consumer = Consumer(self._config)
        ends, positions = {}, dict(expected)
        unknown = [TopicPartition(t, p) for t, p in quiet if (t, p) not in positions]
        if unknown:
            for tp in self._consumer.committed(unknown, timeout=10):
                low, _ = self._consumer.get_watermark_offsets(tp, timeout=10)
                positions[(tp.topic, tp.partition)] = max(tp.offset, low)
        for topic, partition in quiet:
            _, ends[(topic, partition)] = self._consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=10)
        found = to_read(quiet, positions, ends)
        for (topic, partition), (start, end) in found.items():
            log.warning("%s: %s[%d] holds records %d..%d that were not delivered in %.0fs; "
                        "reading them back", self.name, topic, partition, start, end - 1,
                        self.quiet_s)
        return found
