"""Faust's producer keeps the metadata of every topic it sends to (its table changelogs).

Upstream: aiokafka/client.py `AIOKafkaClient._wait_on_metadata` (returns early for a known
  topic without `add_topic`), aiokafka/cluster.py `ClusterMetadata.update_metadata`,
  aiokafka/producer/producer.py (makes its client from the module's `AIOKafkaClient`)
Checked against: aiokafka 0.14.0, faust-streaming 0.15.3

aiokafka's producer tracks a topic in its metadata refreshes only when the topic
was unknown at its first send. A topic it already knew from a refresh of every topic,
as a changelog Faust has just created, stays untracked; once another topic is tracked,
each refresh asks for the tracked topics alone and replaces the whole cluster view with
them. The untracked topic's partitions are then gone, its records wait for a leader no
refresh reports, and a checkpoint flushing them waits until they expire (Faust's
`producer_request_timeout`, 20 minutes). Settlement and the candles share one producer
and write two changelogs, so their first checkpoint could hang so.

Here every topic is tracked from its first send, as kafka-python's producer does.

Upstream also: aiokafka/producer/producer.py `AIOKafkaProducer._partition` (asserts
"Unrecognized partition" for a partition its metadata lacks; `send` refreshes only for an
unknown topic), faust/transport/drivers/aiokafka.py `Producer._new_producer` (makes it
from its `_producer_type`)

A partition added since the producer's last refresh (`matchstream topics --partitions
N`), whose source partition a rebalance has just given the stage, is one it lacks: the
stage's first changelog write to it failed the assertion and stopped the stage. Here a
send to a partition the producer does not know refreshes its metadata first.
"""

from __future__ import annotations

from aiokafka import client as aiokafka_client
from aiokafka.producer import producer as aiokafka_producer
from faust.transport.drivers import aiokafka as aiokafka_driver


class Client(aiokafka_client.AIOKafkaClient):
    async def _wait_on_metadata(self, topic):  # before every send
        if topic not in self._topics:
            self.add_topic(topic)  # refreshes the metadata once, not awaited
        return await super()._wait_on_metadata(topic)


class Producer(aiokafka_producer.AIOKafkaProducer):
    async def send(self, topic, value=None, key=None, partition=None, timestamp_ms=None,
                   headers=None):
        if partition is not None:
            known = self.client.cluster.partitions_for_topic(topic)
            if known is not None and partition not in known:  # added since the last refresh
                await self.client.force_metadata_update()
        return await super().send(topic, value, key, partition, timestamp_ms, headers)


def install() -> None:
    """What AIOKafkaProducer makes its client from, and what Faust makes its producer
    from."""
    aiokafka_producer.AIOKafkaClient = Client
    aiokafka_driver.Producer._producer_type = property(lambda self: Producer)
