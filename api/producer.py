"""The API's one confluent-kafka producer: produce and await the broker's acknowledgement."""

from __future__ import annotations

import asyncio
import threading

from confluent_kafka import KafkaException, Producer

from api.errors import ApiError
from infra.kafka_client import producer_config
from schemas.codec import encode

DELIVERY_TIMEOUT_S = 30


class OrderProducer:
    def __init__(self, settings) -> None:
        self.topic = settings.topic("order-requests")
        self._producer = Producer(producer_config(
            settings, **{"delivery.timeout.ms": DELIVERY_TIMEOUT_S * 1000}))
        self._stop = threading.Event()
        # delivery callbacks run in poll(): a thread polls so the event loop never blocks
        self._poller = threading.Thread(target=self._poll, name="api-producer", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.1)

    async def send(self, account: str, record) -> None:
        """Produce a record (or its encoded bytes) keyed by account; returns once the broker
        has it, or raises ApiError 503 (after a delivery error the broker may still have it)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future = loop.create_future()

        def delivered(err, _msg) -> None:
            loop.call_soon_threadsafe(_settle, done, err)

        try:
            value = record if isinstance(record, bytes) else encode(record)
            self._producer.produce(self.topic, key=account.encode(), value=value,
                                   on_delivery=delivered)
        except (BufferError, KafkaException) as exc:
            raise ApiError(503, "KAFKA_UNAVAILABLE", f"could not queue the request: {exc}") from None
        try:
            err = await asyncio.wait_for(done, DELIVERY_TIMEOUT_S + 5)
        except TimeoutError:
            err = "no delivery report in time"
        if err is not None:
            raise ApiError(503, "KAFKA_UNAVAILABLE",
                           f"the broker did not confirm the request: {err}")

    def close(self) -> None:
        self._producer.flush(10)
        self._stop.set()
        self._poller.join(5)


def _settle(future: asyncio.Future, err) -> None:
    if not future.done():
        future.set_result(err)
