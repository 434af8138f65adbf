"""The Faust app and the platform's topics.

Processing guarantee: exactly_once. The gate and the matcher write their outputs,
their table changelogs and their input offsets in one Kafka transaction, so a worker
killed at any point leaves either all of a batch's effects or none of them; the
consumers downstream read committed records only. PostgreSQL is outside that
transaction, so every database effect is idempotent on a deterministic key: the
request's (partition, offset) for the gate, the trade id for settlement, the order id
for cancellations. See README "Processing guarantees".
"""

from __future__ import annotations

import faust

from infra.settings import Settings, load

settings: Settings = load()

app = faust.App(
    settings.app_id,
    broker=f"kafka://{settings.kafka_bootstrap}",
    store="memory://",
    processing_guarantee="exactly_once",
    topic_partitions=4,
    topic_allow_declare=False,  # topics come from infra/topics.py, with their partition counts
    web_enabled=False,
    autodiscover=False,
    broker_commit_interval=0.1,
    stream_wait_empty=False,
    producer_linger_ms=1,
)


def raw_topic(name: str) -> faust.TopicT:
    """Raw bytes in and out: decoding happens in the agent, where errors become records."""
    return app.topic(settings.topic(name), key_type=bytes, value_type=bytes,
                     key_serializer="raw", value_serializer="raw")


order_requests = raw_topic("order-requests")
orders = raw_topic("orders")
order_events = raw_topic("order-events")
trades = raw_topic("trades")
quotes = raw_topic("quotes")
book = raw_topic("book")
halts = raw_topic("halts")
candles = raw_topic("candles")
dead_letters = raw_topic("dead-letters")
