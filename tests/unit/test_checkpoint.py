"""The checkpoint protocol (streams/runtime/checkpoint.py): outputs, then tables, then
acknowledgements, each once the one before is confirmed. Stubs record the order."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

from streams.runtime.checkpoint import Checkpoint


class Steps(list):
    def output(self):
        steps = self

        class Output:
            async def flush(self):
                steps.append("flush")
        return Output()

    def app(self):
        steps = self

        class Producer:
            async def flush(self):
                steps.append("producer flush")
        return SimpleNamespace(producer=Producer())

    def table(self):
        steps = self

        class Table:
            async def write(self, key, value, partition):
                steps.append(f"write {key.decode()}@{partition}")
                delivered = asyncio.get_running_loop().create_future()

                def confirm():
                    steps.append(f"confirmed {key.decode()}")
                    delivered.set_result(None)
                asyncio.get_running_loop().call_soon(confirm)
                return delivered
        return Table()

    def event(self, name):
        return SimpleNamespace(ack=lambda: self.append(f"ack {name}"))


def checkpoint(steps: Steps, **kwargs) -> Checkpoint:
    table = steps.table()

    def entries(events):
        steps.append(f"entries for {len(events)}")
        return [(table, b"book", b"blob", 3), (table, b"index", b"7", 3)]
    return Checkpoint(steps.output(), steps.app(), entries, **kwargs)


def test_outputs_then_tables_then_acknowledgements():
    steps = Steps()
    cp = checkpoint(steps)
    cp.applied([steps.event("a"), steps.event("b")])
    asyncio.run(cp.commit())
    assert steps == ["flush", "entries for 2", "write book@3", "write index@3",
                     "producer flush", "confirmed book", "confirmed index", "ack a", "ack b"]
    assert not cp.pending


def test_nothing_applied_writes_nothing():
    steps = Steps()
    asyncio.run(checkpoint(steps).commit())
    assert steps == []


def test_at_a_revocation_nothing_is_acknowledged():
    steps = Steps()
    cp = checkpoint(steps)
    cp.applied([steps.event("a")])
    asyncio.run(cp.commit(ack=False))
    assert "ack a" not in steps and "confirmed index" in steps
    assert not cp.pending


def test_discarded_events_are_neither_written_nor_acknowledged():
    steps = Steps()
    cp = checkpoint(steps)
    cp.applied([steps.event("a")])
    cp.discard()
    asyncio.run(cp.commit())
    assert steps == []


def test_due_after_every_batch_without_an_interval():
    assert checkpoint(Steps()).due()


def test_due_after_enough_commands_or_time():
    steps = Steps()
    cp = checkpoint(steps, interval_s=3600, every=100)
    cp.applied([steps.event("a")], count=99)
    assert not cp.due()
    cp.applied([steps.event("b")], count=1)
    assert cp.due()
    asyncio.run(cp.commit())
    assert not cp.due()
    cp = checkpoint(steps, interval_s=0.01, every=100)
    time.sleep(0.02)
    assert cp.due()
