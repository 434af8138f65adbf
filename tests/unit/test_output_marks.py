"""Waiting for the records sent up to a mark (streams/runtime/output.py), not for those
sent after it: the matcher completes a checkpoint while it goes on sending."""

from __future__ import annotations

import asyncio

import pytest

from streams.runtime.output import DeliveryFailed, Output


class Broker:
    """A producer whose delivery reports come when the test says, on poll()."""

    def __init__(self) -> None:
        self.queued: list = []  # (topic, callback) not yet reported
        self.ready = 0  # how many of the queued the broker has taken

    def produce(self, topic, value, key, partition=None, on_delivery=None):
        self.queued.append((topic, on_delivery))

    def poll(self, _timeout):
        while self.ready and self.queued:
            topic, report = self.queued.pop(0)
            self.ready -= 1
            report("refused" if topic == "bad" else None, Message(topic))
        return 0

    def __len__(self):
        return len(self.queued)


class Message:
    def __init__(self, topic):
        self._topic = topic

    def topic(self):
        return self._topic

    def partition(self):
        return 0


def output() -> tuple[Output, Broker]:
    out = Output(settings=None)
    broker = out._producer = Broker()
    return out, broker


def test_waits_for_the_records_before_the_mark_only():
    out, broker = output()

    async def run():
        for _ in range(3):
            out.send("t", b"k", b"v")
        mark = out.mark()
        out.send("t", b"k", b"later")  # sent while the checkpoint completes
        waiting = asyncio.ensure_future(out.delivered(mark))
        await asyncio.sleep(0.01)
        assert not waiting.done()  # nothing reported yet
        broker.ready = 3
        await asyncio.wait_for(waiting, 1)  # the later record is still unreported
        assert len(broker) == 1
    asyncio.run(run())


def test_a_mark_waits_for_every_earlier_mark():
    out, broker = output()

    async def run():
        out.send("t", b"k", b"1")
        first = out.mark()
        second = out.mark()  # nothing sent between the marks
        waiting = asyncio.ensure_future(out.delivered(second))
        await asyncio.sleep(0.01)
        assert not waiting.done()
        broker.ready = 1
        await asyncio.wait_for(waiting, 1)
        assert first.done
    asyncio.run(run())


def test_a_refused_record_fails_the_wait():
    out, broker = output()

    async def run():
        out.send("bad", b"k", b"v")
        mark = out.mark()
        broker.ready = 1
        with pytest.raises(DeliveryFailed, match="refused"):
            await out.delivered(mark)
    asyncio.run(run())
