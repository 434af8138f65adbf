"""The Faust app and the platform's topics.

Processing guarantee: at-least-once delivery with effects made exactly-once by
deterministic ids and idempotent consumers. Faust's exactly_once mode picks a
transaction by the *output* partition, which is only atomic when input and output
are co-partitioned; ours are not (account-keyed requests become symbol-keyed
orders), so it cannot hold here. Instead:
- every agent acknowledges its input only after its outputs are flushed to Kafka;
- the gate is idempotent on the request's (partition, offset), stored with the order;
- the matcher skips commands its snapshot already holds and gate duplicates
  (streams/matcher_state.py), and replays produce identical events and ids;
- settlement is idempotent on the trade id and on the order's cancellation.
See README "Processing guarantees".
"""

from __future__ import annotations

import os

import faust

from infra.settings import Settings, load
from streams.output import Output
from streams.stages import group_id

settings: Settings = load()
# the stage this process runs (streams/stages.py); tools importing the app have none
STAGE = os.environ.get("MATCHSTREAM_STAGE", "")
output = Output(settings)  # what agents produce (Faust's producer serves its tables)

app = faust.App(
    group_id(settings, STAGE) if STAGE else settings.app_id,
    broker=f"kafka://{settings.kafka_bootstrap}",
    store="memory://",
    processing_guarantee="at_least_once",
    topic_partitions=4,
    web_enabled=False,
    datadir=str(settings.home / "faust" / "{conf.id}"),
    autodiscover=False,
    broker_commit_interval=0.1,
    # do not wait for in-flight events on stop or rebalance: the matcher holds its input
    # unacknowledged until a checkpoint, and every agent is safe to replay (see above)
    stream_wait_empty=False,
    # a killed worker's partitions move on after this long (Faust's default is 60 s)
    broker_session_timeout=10,
    broker_heartbeat_interval=1,
    producer_linger_ms=1,
    producer_max_request_size=64 * 1024 * 1024,  # book snapshots (tables/books.py)
    consumer_max_fetch_size=64 * 1024 * 1024,
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

BY_NAME = {"order-requests": order_requests, "orders": orders, "order-events": order_events,
           "trades": trades, "quotes": quotes, "book": book, "halts": halts,
           "candles": candles, "dead-letters": dead_letters}

# full names of the topics agents produce to through `output`
ORDERS = settings.topic("orders")
ORDER_EVENTS = settings.topic("order-events")
DEAD_LETTERS = settings.topic("dead-letters")
OUTPUT_TOPICS = {name: settings.topic(name) for name in BY_NAME}
