"""Kafka's murmur2 partitioner, against the values of Java's `Utils.murmur2` (kafka-clients
4.1.1; the same that librdkafka's `murmur2_random` partitioner gives)."""

from __future__ import annotations

import pytest

from infra.kafka_client import murmur2, partition_for

JAVA = [
    (b"", 275646681),
    (b"a", -1563381124),
    (b"ab", 316155434),
    (b"abc", 479470107),
    (b"21", -973932308),
    (b"ACME", -2089454767),
    (b"foobar", -790332482),
    (b"a-little-bit-long-string", -985981536),
    (b"a-little-bit-longer-string", -1486304829),
    (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
    (bytes([0xFF, 0x80, 0x7F, 0x00, 0xFE]), -1958495739),
]


@pytest.mark.parametrize(("key", "expected"), JAVA)
def test_murmur2_is_javas(key, expected):
    assert murmur2(key) == expected


def test_partition_is_the_positive_hash_modulo_the_count():
    # Java: Utils.toPositive(murmur2(key)) % numPartitions, toPositive = & 0x7fffffff
    assert partition_for(b"21", 4) == (-973932308 & 0x7FFFFFFF) % 4 == 0
    assert partition_for(b"foobar", 31) == 27
    assert partition_for(b"", 31) == 13
    assert {partition_for(key, 1) for key, _ in JAVA} == {0}
