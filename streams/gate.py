"""Gate stage on order-requests: one database transaction per batch, then send on.

Reads with confluent-kafka (streams/runtime/direct.py); the batch's outputs are delivered
before its offsets are committed (the stage flushes them before each commit, not after
each batch). A replayed batch re-emits the same outcomes: the
order rows remember the request's (partition, offset) (streams/gate_logic.py). A
database fault pauses the stage; a request proven to be unprocessable on its own is
dead-lettered (streams/runtime/resilient.py).
"""

from __future__ import annotations

import time

from infra.settings import Settings
from streams.gate_logic import GateOutput, RawRecord, process_batch
from streams.runtime.database import database
from streams.runtime.dead_letter import DeadLetters
from streams.runtime.direct import DirectStage, serve
from streams.runtime.health import StageHealth
from streams.runtime.output import Output
from streams.runtime.resilient import BatchPolicy

# requests a batch takes at most: at 5,000 orders/s 3,000 kept the gate up in 5 runs of 5
# (1,000: 1 of 6); its largest `orders` record (all one symbol) is ~1.1 MB at most
MAX_BATCH = 3000
# a batch this large waits for its records to be delivered before the next is taken; a
# smaller one goes on at once (streams/runtime/direct.py flushes before each commit)
FLUSH_FROM = 100


class Gate:
    def __init__(self, settings: Settings) -> None:
        self.topic = settings.topic("order-requests")
        self.orders = settings.topic("orders")
        self.order_events = settings.topic("order-events")
        self.health = StageHealth("gate")
        # sent at once: the matcher waits on these, and the gate flushes only before
        # it commits (streams/runtime/direct.py)
        self.output = Output(settings, self.health, linger_ms=0)
        self.dead_letters = DeadLetters(self.output, settings.topic("dead-letters"),
                                        self.health)
        self.policy = BatchPolicy("gate", database(), self.health)

    async def process(self, events: list) -> None:
        records = [RawRecord(e.key, e.value, e.message.partition, e.message.offset)
                   for e in events]
        now_ms = int(time.time() * 1000)
        outputs, poison = await self.policy.apply(
            records, lambda conn, batch: process_batch(conn, self.topic, batch, now_ms),
            where=lambda r: (self.topic, r.partition, r.offset))
        for out in outputs:
            self._send(out)
        for record, exc in poison:
            self.dead_letters.refused(exc, self.topic, record.partition, record.offset,
                                      record.key, record.value)
        if len(events) >= FLUSH_FROM:
            # a large batch means load: while the broker takes its records, the next
            # batch's requests gather, and larger batches share their fixed costs
            self.output.flush()

    def _send(self, out: GateOutput) -> None:
        for partition, key, value in out.order_batches():
            self.output.send(self.orders, key, value, partition)
        for key, value in out.events:
            self.output.send(self.order_events, key, value)
        for record, error in out.undecodable:
            self.dead_letters.send(error, self.topic, record.partition, record.offset,
                                   record.key)


def main(settings: Settings) -> None:
    gate = Gate(settings)
    serve(DirectStage(settings, "gate", {"order-requests": gate.process}, MAX_BATCH,
                      before_commit=gate.output.flush))
