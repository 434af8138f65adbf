"""Settings shared by every confluent-kafka client of the platform."""

from __future__ import annotations

from infra.settings import Settings


def producer_config(settings: Settings, **extra) -> dict:
    # murmur2 is the partitioner of the Java client and of aiokafka (the Faust workers):
    # with librdkafka's default (CRC32) the same key would land on another partition
    return {"bootstrap.servers": settings.kafka_bootstrap, "partitioner": "murmur2_random",
            "linger.ms": 1, "enable.idempotence": True, **extra}
