"""The gate waits for the broker after a large batch only: under load the next batch
gathers meanwhile; a small one goes on at once and is flushed before the commit."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from streams import gate as gate_module
from streams.gate import FLUSH_FROM, Gate


class CountingOutput:
    def __init__(self) -> None:
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1


class NoWork:
    async def apply(self, records, work, where):
        return [], []


def _gate() -> Gate:
    gate = Gate.__new__(Gate)  # no services: only process()'s own steps run
    gate.topic, gate.output, gate.policy = "order-requests", CountingOutput(), NoWork()
    return gate


def _events(count: int) -> list:
    return [SimpleNamespace(key=b"a", value=b"{}", message=SimpleNamespace(partition=0,
                                                                          offset=i))
            for i in range(count)]


def test_a_large_batch_is_flushed_before_the_next_is_taken():
    gate = _gate()
    asyncio.run(gate.process(_events(FLUSH_FROM)))
    assert gate.output.flushes == 1


def test_a_small_batch_goes_on_without_waiting():
    gate = _gate()
    asyncio.run(gate.process(_events(FLUSH_FROM - 1)))
    asyncio.run(gate.process(_events(1)))
    assert gate.output.flushes == 0
    assert gate_module.MAX_BATCH > FLUSH_FROM  # a full batch is a large one
