"""Settings shared by every confluent-kafka client of the platform."""

from __future__ import annotations

from infra.settings import Settings

# librdkafka (2.16) forgets a partition's leader when a produce or fetch response names
# none, as a broker shutting down answers (leader -1, "new leader-1 not found in cache"),
# and learns it again only at a full metadata refresh: every 5 minutes by default, so a
# producer to a restarted broker delivered nothing for minutes. Every 10 s instead.
METADATA_REFRESH = {"topic.metadata.refresh.interval.ms": 10_000}


def producer_config(settings: Settings, **extra) -> dict:
    # murmur2 is the partitioner of the Java client and of aiokafka (the Faust workers):
    # with librdkafka's default (CRC32) the same key would land on another partition
    return {"bootstrap.servers": settings.kafka_bootstrap, "partitioner": "murmur2_random",
            "linger.ms": 1, "enable.idempotence": True, "acks": "all",  # every in-sync copy
            **METADATA_REFRESH, **extra}


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 hash (Java's `Utils.murmur2`) as a signed 32-bit int."""
    m, length = 0x5BD1E995, len(data)
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    tail = length - length % 4
    for i in range(0, tail, 4):
        k = int.from_bytes(data[i:i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> 24
        k = (k * m) & 0xFFFFFFFF
        h = ((h * m) & 0xFFFFFFFF) ^ k
    if length % 4:
        for i in reversed(range(length % 4)):
            h ^= data[tail + i] << (8 * i)
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def partition_for(key: bytes, partitions: int) -> int:
    """The partition the murmur2 partitioner (Java's default, ours) gives a non-null key."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions
