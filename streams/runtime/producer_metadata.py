"""Faust's producer keeps the metadata of every topic it sends to (its table changelogs).

aiokafka's producer (0.14) tracks a topic in its metadata refreshes only when the topic
was unknown at its first send. A topic it already knew from a refresh of every topic,
as a changelog Faust has just created, stays untracked; once another topic is tracked,
each refresh asks for the tracked topics alone and replaces the whole cluster view with
them. The untracked topic's partitions are then gone, its records wait for a leader no
refresh reports, and a checkpoint flushing them waits until they expire (Faust's
`producer_request_timeout`, 20 minutes). Settlement and the candles share one producer
and write two changelogs, so their first checkpoint could hang so.

Here every topic is tracked from its first send, as kafka-python's producer does.
"""

from __future__ import annotations

from aiokafka import client as aiokafka_client
from aiokafka.producer import producer as aiokafka_producer


class Client(aiokafka_client.AIOKafkaClient):
    async def _wait_on_metadata(self, topic):  # before every send (aiokafka 0.14)
        if topic not in self._topics:
            self.add_topic(topic)  # refreshes the metadata once, not awaited
        return await super()._wait_on_metadata(topic)


def install() -> None:
    """What AIOKafkaProducer makes its client from (aiokafka 0.14)."""
    aiokafka_producer.AIOKafkaClient = Client
