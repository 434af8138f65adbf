"""POST /v1/orders when Kafka's acknowledgement is lost or slow: the Idempotency-Key and
the issued order id are committed before the request is produced, and a retry re-produces
the stored request under the same order id (the gate takes a second identical copy as a
no-op). Faults are injected around the app's real producer."""

from __future__ import annotations

import asyncio
import threading

from confluent_kafka import Consumer, TopicPartition

from api.errors import ApiError
from streams.runtime.stages import group_id
from tests.integration.test_api_support import api, auth, error_code  # noqa: F401
from tests.platform import consume, wait_for

BODY = {"symbol": "ACME", "side": "BUY", "quantity": 10, "price": 10_000}


def lose_first_ack(monkeypatch, client) -> list:
    """The first send is produced for real, then answered as a delivery failure."""
    producer = client.app.state.order_producer
    real, calls = producer.send, []

    async def send(account, record):
        calls.append(record)
        await real(account, record)
        if len(calls) == 1:
            raise ApiError(503, "KAFKA_UNAVAILABLE", "injected: the broker's ack was lost")

    monkeypatch.setattr(producer, "send", send)
    return calls


def produced(p, count: int) -> list[bytes]:
    """The values of the first `count` records on order-requests."""
    consumer = p.consumer("order-requests")
    try:
        return [m.value() for m in consume(consumer, count, 60)]
    finally:
        consumer.close()


def gate_caught_up(p) -> bool:
    """The gate has committed every order request produced so far."""
    topic = p.topic("order-requests")
    consumer = Consumer({"bootstrap.servers": p.settings.kafka_bootstrap,
                         "group.id": group_id(p.settings, "gate"), "enable.auto.commit": False})
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        committed = consumer.committed([TopicPartition(topic, n) for n in parts], timeout=10)
        return all(consumer.get_watermark_offsets(tp, timeout=10)[1] <= max(tp.offset, 0)
                   for tp in committed)
    finally:
        consumer.close()


def test_lost_ack_then_retry_with_the_same_key_places_one_order(
        platform, api, monkeypatch):  # noqa: F811
    p = platform
    p.symbol("ACME", reference_price=10_000)
    p.account("alice", cash=1_000_000)
    alice = {**auth(p, "alice"), "Idempotency-Key": "k1"}
    calls = lose_first_ack(monkeypatch, api)

    first = api.post("/v1/orders", json=BODY, headers=alice)
    assert (first.status_code, error_code(first)) == (503, "KAFKA_UNAVAILABLE"), first.text
    assert "same Idempotency-Key" in first.json()["error"]["message"]
    issued = p.rows("SELECT order_id, request FROM issued_orders")
    assert len(issued) == 1 and p.scalar("SELECT count(*) FROM idempotency_keys") == 1
    order_id, request = issued[0]
    assert order_id in first.json()["error"]["message"]

    again = api.post("/v1/orders", json=BODY, headers=alice)
    assert again.status_code == 202, again.text
    assert again.json() == {"order_id": order_id, "status": "PENDING", "replayed": True}
    assert p.rows("SELECT order_id FROM issued_orders") == [(order_id,)]
    assert p.scalar("SELECT count(*) FROM idempotency_keys") == 1
    # the retry re-produced the stored request, byte for byte
    assert produced(p, 2) == [bytes(request)] * 2

    worker = p.start_worker()
    wait_for(lambda: p.scalar("SELECT count(*) FROM orders") == 1 and gate_caught_up(p), 120,
             "the gate to take both copies", [worker.log_path])
    assert p.rows("SELECT order_id, reserved_cash FROM orders") == [(order_id, 100_000)]
    assert p.scalar("SELECT reserved_cash FROM accounts WHERE account_id='alice'") == 100_000
    # once the gate has recorded the order, a retry needs no other copy
    late = api.post("/v1/orders", json=BODY, headers=alice)
    assert late.json() == again.json() and len(calls) == 2
    p.assert_reconciled()


def test_lost_ack_then_retry_with_the_same_client_order_id(
        platform, api, monkeypatch):  # noqa: F811
    p = platform
    p.symbol("ACME", reference_price=10_000)
    p.account("alice")
    p.account("bob")
    alice, bob = auth(p, "alice"), auth(p, "bob")
    calls = lose_first_ack(monkeypatch, api)
    body = {**BODY, "order_id": "c1"}

    first = api.post("/v1/orders", json=body, headers=alice)
    assert (first.status_code, error_code(first)) == (503, "KAFKA_UNAVAILABLE"), first.text
    again = api.post("/v1/orders", json=body, headers=alice)
    assert again.status_code == 202, again.text
    assert again.json() == {"order_id": "c1", "status": "PENDING", "replayed": True}
    # the same id with other content, or from another account, is still a duplicate
    for other, headers in (({**body, "quantity": 11}, alice), ({**body, "price": 10_001}, alice),
                           ({**body, "tif": "IOC"}, alice), (body, bob)):
        response = api.post("/v1/orders", json=other, headers=headers)
        assert (response.status_code, error_code(response)) == (422, "DUPLICATE_ORDER_ID")
    assert len(calls) == 2
    request = p.scalar("SELECT request FROM issued_orders WHERE order_id = 'c1'")
    assert p.scalar("SELECT count(*) FROM issued_orders") == 1
    assert p.scalar("SELECT count(*) FROM idempotency_keys") == 0
    assert produced(p, 2) == [bytes(request)] * 2


def test_no_transaction_is_open_while_kafka_delivers(platform, api, monkeypatch):  # noqa: F811
    p = platform
    p.symbol("ACME", reference_price=10_000)
    p.account("alice")
    alice = {**auth(p, "alice"), "Idempotency-Key": "k1"}
    producer = api.app.state.order_producer
    real, entered, held = producer.send, threading.Event(), {}

    async def send(account, record):
        held["loop"], held["release"] = asyncio.get_running_loop(), asyncio.Event()
        entered.set()
        await held["release"].wait()
        await real(account, record)

    monkeypatch.setattr(producer, "send", send)
    answers = []
    poster = threading.Thread(
        target=lambda: answers.append(api.post("/v1/orders", json=BODY, headers=alice)))
    poster.start()
    try:
        assert entered.wait(60), "the API never produced"
        assert p.scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                        "current_database() AND state LIKE 'idle in transaction%'") == 0
        # the key and the order id are committed before Kafka is asked
        assert p.scalar("SELECT count(*) FROM idempotency_keys") == 1
        assert p.scalar("SELECT count(*) FROM issued_orders") == 1
    finally:
        if "loop" in held:
            held["loop"].call_soon_threadsafe(held["release"].set)
        poster.join(60)
    assert answers and answers[0].status_code == 202, answers
    assert answers[0].json()["replayed"] is False
