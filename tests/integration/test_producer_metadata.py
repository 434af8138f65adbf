"""The Faust stages' producer keeps in view every topic it has sent to: a topic known
from its first refresh of every topic (a changelog just created) is not dropped once
another topic is tracked (streams/runtime/faust_fixes/producer_metadata.py)."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer
from confluent_kafka.admin import NewTopic

from infra import topics
from streams.runtime.faust_fixes import producer_metadata


def test_every_topic_sent_to_stays_in_the_producers_view(platform):
    p = platform
    producer_metadata.install()
    known, later = p.topic("orders"), p.topic("made-later")
    admin = topics.admin(p.settings)

    async def scenario() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=p.settings.kafka_bootstrap)
        await producer.start()
        try:
            # no topic tracked yet: a refresh of every topic (as when Faust creates one)
            await producer.client.force_metadata_update()
            assert producer.client.cluster.partitions_for_topic(known)
            await producer.send_and_wait(known, b"1", key=b"k")
            made = admin.create_topics([NewTopic(later, 1, 1)])
            made[later].result()
            await producer.send_and_wait(later, b"2", key=b"k")  # tracked: unknown before
            await producer.client.force_metadata_update()
            assert producer.client.cluster.partitions_for_topic(known), (
                f"{known} dropped from the producer's metadata")
        finally:
            await producer.stop()

    asyncio.run(scenario())
