"""The gate's loop (streams/runtime/direct.py) commits a batch's offsets only once what
the batch sent is on the broker (`before_commit`), and never when that fails."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from infra.settings import load
from streams.runtime.direct import DirectStage


@dataclass
class Record:
    _offset: int

    def error(self):
        return None

    def topic(self):
        return load().topic("order-requests")

    def partition(self):
        return 0

    def offset(self):
        return self._offset

    def key(self):
        return b"a"

    def value(self):
        return b"{}"


class Consumer:
    """Hands out two records, then nothing; records what the stage does."""

    def __init__(self, stage: DirectStage, calls: list) -> None:
        self.stage, self.calls = stage, calls
        self.records = [Record(0), Record(1)]

    def subscribe(self, topics, on_assign=None, on_revoke=None) -> None:
        pass

    def poll(self, timeout):
        if self.records:
            return self.records.pop(0)
        self.calls.append("idle")
        if self.calls.count("idle") > 1:
            self.stage.stop()
        return None

    def consume(self, count, timeout):
        out, self.records = self.records, []
        return out

    def commit(self, offsets, asynchronous):
        self.calls.append(("commit", [(tp.partition, tp.offset) for tp in offsets]))

    def close(self) -> None:
        self.calls.append("close")


def stage_with(before_commit, calls: list) -> DirectStage:
    async def handle(events):
        calls.append(("handled", [e.message.offset for e in events]))

    stage = DirectStage(load(), "gate", {"order-requests": handle},
                        before_commit=before_commit)
    stage.consumer = Consumer(stage, calls)
    return stage


def test_offsets_are_committed_after_what_the_batch_sent_is_delivered():
    calls: list = []
    stage = stage_with(lambda: calls.append("flushed"), calls)
    asyncio.run(stage.run())
    work = [c for c in calls if c != "idle"]
    assert work == [("handled", [0, 1]), "flushed", ("commit", [(0, 2)]), "close"]


def test_nothing_is_committed_when_the_outputs_cannot_be_delivered():
    calls: list = []

    def refused():
        raise RuntimeError("the broker refused a record")

    stage = stage_with(refused, calls)
    with pytest.raises(RuntimeError):
        asyncio.run(stage.run())
    assert not [c for c in calls if c[0] == "commit"]
    assert calls[-1] == "close"


def test_a_batch_waits_for_more_records_only_when_they_come_densely():
    from streams.runtime.direct import GATHER_MAX_S, gather_s

    assert gather_s(0.0) == gather_s(100.0) == 0.0  # sparse: a record goes at once
    assert 0 < gather_s(1_000.0) <= GATHER_MAX_S
    assert gather_s(10_000.0) < gather_s(1_000.0)  # the denser, the shorter the wait
