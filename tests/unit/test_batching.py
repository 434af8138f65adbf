"""The Batcher's batches: a backlog the intake hands over one event per loop turn (as
Faust's stream does) is taken whole, a lone event at once, and never over max_size."""

import asyncio

from streams.runtime.batching import Batcher

FAUST_TURNS_PER_EVENT = 3  # the most loop turns seen between two of Faust's deliveries


async def _intake(batcher: Batcher, count: int, turns: int = FAUST_TURNS_PER_EVENT) -> None:
    for event in range(count):
        for _ in range(turns):
            await asyncio.sleep(0)
        await batcher.put(event)


async def _settle(batches: list, count: int) -> None:
    while sum(len(b) for b in batches) < count:
        await asyncio.sleep(0)


def _batcher(batches: list, max_size: int) -> Batcher:
    async def process(batch: list) -> None:
        batches.append(batch)
    return Batcher("test", process, max_size)


async def test_a_backlog_delivered_one_event_a_turn_is_one_batch():
    batches: list = []
    batcher = _batcher(batches, max_size=500)
    await _intake(batcher, 300)
    await _settle(batches, 300)
    assert [len(b) for b in batches] == [300]
    assert batches[0] == list(range(300))


async def test_batches_stop_at_max_size_and_keep_the_order():
    batches: list = []
    batcher = _batcher(batches, max_size=100)
    await _intake(batcher, 450)
    await _settle(batches, 450)
    assert all(len(b) <= 100 for b in batches)
    assert len(batches) <= 6  # not one event a batch
    assert [e for b in batches for e in b] == list(range(450))


async def test_a_lone_event_is_processed_within_a_few_loop_turns():
    batches: list = []
    batcher = _batcher(batches, max_size=500)
    await batcher.put("only")
    for turn in range(20):  # loop turns, not a timer
        if batches:
            break
        await asyncio.sleep(0)
    assert batches == [["only"]]
    assert turn <= 10
