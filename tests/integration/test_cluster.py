"""The project's own three-broker cluster (`matchstream up --brokers 3`): the platform's
topics and the Faust stages' changelogs get three copies with two in sync; records
produced while a broker is killed and after it returns are all there, once each; the
pipeline trades and settles with a broker down."""

from __future__ import annotations

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import ConfigResource

from infra import kafka_broker, topics
from infra.kafka_client import producer_config
from infra.services import status as service_status
from schemas.records import NewOrderRequest
from tests import cluster as three_brokers
from tests.platform import wait_for


def _copies(settings, topic: str) -> tuple[set[int], str]:
    """(replicas per partition, min.insync.replicas) of a topic."""
    client = topics.admin(settings)
    meta = client.list_topics(topic, timeout=10).topics[topic]
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    insync = client.describe_configs([resource])[resource].result()["min.insync.replicas"]
    return {len(part.replicas) for part in meta.partitions.values()}, insync.value


def _produce(settings, topic: str, values: range) -> None:
    producer = Producer(producer_config(settings))
    failed = []
    for value in values:
        producer.produce(topic, key=b"SYM%d" % (value % 7), value=b"%d" % value,
                         on_delivery=lambda err, _msg: err and failed.append(err))
    assert producer.flush(60) == 0
    assert failed == []


def test_a_killed_broker_loses_no_record(cluster):
    settings = cluster
    orders = settings.topic("orders")
    assert _copies(settings, orders) == ({3}, "2")
    status = service_status(settings)["kafka"]
    assert "3 broker(s)" in status and "0 under-replicated" in status, status

    _produce(settings, orders, range(0, 200))
    three_brokers.kill(settings, 3)
    _produce(settings, orders, range(200, 400))  # two copies in sync are enough
    wait_for(lambda: three_brokers.under_replicated(settings) > 0, 60,
             "broker 3 out of the in-sync sets")
    assert "0 under-replicated" not in service_status(settings)["kafka"]

    three_brokers.restore(settings)  # starts only the broker that is not running

    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap,
                         "group.id": "cluster-test", "auto.offset.reset": "earliest"})
    consumer.subscribe([orders])
    seen: list[int] = []
    wait_for(lambda: seen.extend(int(m.value()) for m in consumer.consume(500, 1)
                                 if m.error() is None) or len(seen) >= 400, 60, "400 records")
    consumer.close()
    assert sorted(seen) == list(range(400))  # none lost, none twice


def test_the_size_of_a_cluster_is_fixed_once_made(cluster):
    with pytest.raises(kafka_broker.KafkaError, match="holds a cluster of 3 broker"):
        kafka_broker.set_cluster_size(cluster, 1)


def test_the_pipeline_trades_and_settles_with_a_broker_down(cluster, cluster_platform):
    platform = cluster_platform
    platform.symbol("ACME", reference_price=10_000)
    platform.account("alice", cash=1_000_000)
    platform.account("bob", ACME=100)
    worker = platform.start_worker()
    platform.wait_ready(worker)
    changelogs = [name for name in topics.admin(cluster).list_topics(timeout=10).topics
                  if name.startswith(platform.settings.app_id + "-")
                  and name.endswith("-changelog")]
    assert len(changelogs) >= 3  # books, settlement positions, open candles
    assert {name: _copies(cluster, name) for name in changelogs} == {
        name: ({3}, "2") for name in changelogs}

    three_brokers.kill(cluster, 2)  # back after the test (tests/conftest.py)
    platform.send("order-requests", b"bob", NewOrderRequest(
        order_id="s-1", account="bob", symbol="ACME", side="SELL", quantity=10,
        price=10_000))
    platform.send("order-requests", b"alice", NewOrderRequest(
        order_id="b-1", account="alice", symbol="ACME", side="BUY", quantity=10,
        price=10_000))
    platform.flush()
    wait_for(lambda: platform.scalar(
        "SELECT count(*) FROM trades") == 1, 120,
        "the trade settled", logs=[worker.log_path])
    assert platform.scalar(
        "SELECT quantity FROM holdings WHERE account_id = 'alice' AND symbol = 'ACME'"
    ) == 10
    platform.assert_reconciled()
