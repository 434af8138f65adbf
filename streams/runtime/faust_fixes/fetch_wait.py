"""How long the broker may hold a Faust stage's fetch: short while records are buffered,
long when none are.

Upstream: aiokafka/consumer/fetcher.py `Fetcher._get_actions_per_node` (builds each
  `FetchRequest` from `self._fetch_max_wait_ms`), aiokafka/consumer/consumer.py
  `AIOKafkaConsumer.start` (makes the module's `Fetcher`)
Checked against: aiokafka 0.14.0, faust-streaming 0.15.3

aiokafka keeps one fetch in flight per broker, and a fetch leaves out the partitions
whose records are still buffered, not yet taken by the stage. A partition whose records
are taken meanwhile cannot be fetched again until that fetch returns, which the broker
holds until a record comes on another partition or the fetch's wait ends (Faust asks
for 1.5 s): the stage stalls. Such a fetch is given a short wait; one that covers every
partition the stage reads can wait long, since any new record ends it at once.
"""

from __future__ import annotations

import os

from aiokafka.consumer import consumer as aiokafka_consumer
from aiokafka.consumer import fetcher as aiokafka_fetcher

FETCH_MAX_WAIT_MS = int(os.environ.get("MATCHSTREAM_FETCH_MAX_WAIT_MS") or 10)
IDLE_FETCH_MAX_WAIT_MS = 500


def fetch_wait_ms(records_buffered: bool) -> int:
    return FETCH_MAX_WAIT_MS if records_buffered else IDLE_FETCH_MAX_WAIT_MS


def input_buffered(records) -> bool:
    """Whether records of a partition the stage reads are buffered (the fetcher's records
    by partition). A table's changelog partitions stay buffered: the stage writes them
    and reads them only to recover."""
    return any(not tp.topic.endswith("-changelog") for tp in records)


class Fetcher(aiokafka_fetcher.Fetcher):
    def _get_actions_per_node(self, assignment):  # builds the next fetch requests
        self._fetch_max_wait_ms = fetch_wait_ms(input_buffered(self._records))
        return super()._get_actions_per_node(assignment)


def install() -> None:
    """What AIOKafkaConsumer.start() makes its fetcher from."""
    aiokafka_consumer.Fetcher = Fetcher
