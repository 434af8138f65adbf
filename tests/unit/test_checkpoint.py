"""The checkpoint protocol (streams/runtime/checkpoint.py): what covers the applied state is
captured, then outputs, tables and acknowledgements follow, each once the one before is
confirmed. Stubs record the order."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

from streams.runtime import checkpoint as checkpoint_module
from streams.runtime.checkpoint import Checkpoint


class Steps(list):
    def __init__(self) -> None:
        super().__init__()
        self.unconfirmed: list = []  # the writes the producer's next flush confirms

    def output(self):
        steps = self

        class Output:
            health = None

            def mark(self):
                return "mark"

            async def delivered(self, mark):
                assert mark == "mark"
                steps.append("flush")
        return Output()

    def app(self):
        steps = self

        class Producer:
            async def flush(self):
                steps.append("producer flush")
                confirms, steps.unconfirmed = steps.unconfirmed, []
                for confirm in confirms:
                    confirm()
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
                steps.unconfirmed.append(confirm)
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


def test_capture_then_outputs_then_tables_then_acknowledgements():
    steps = Steps()
    cp = checkpoint(steps)
    cp.applied([steps.event("a"), steps.event("b")])
    asyncio.run(cp.commit())
    assert steps == ["entries for 2", "flush", "write book@3", "write index@3",
                     "producer flush", "confirmed book", "confirmed index", "ack a", "ack b"]
    assert not cp.pending


def test_events_applied_after_a_capture_belong_to_the_next_checkpoint():
    steps = Steps()
    cp = checkpoint(steps)
    cp.applied([steps.event("a")])
    captured = cp.capture()
    cp.applied([steps.event("b")])  # a batch while the capture is being completed
    asyncio.run(cp.complete(captured))
    assert "ack a" in steps and "ack b" not in steps and cp.pending
    asyncio.run(cp.commit())
    assert steps.count("ack a") == 1 and "ack b" in steps


def test_completions_run_one_at_a_time():
    steps = Steps()
    cp = checkpoint(steps)

    async def two():
        cp.applied([steps.event("a")])
        first = cp.capture()
        cp.applied([steps.event("b")])
        second = cp.capture()
        await asyncio.gather(cp.complete(second), cp.complete(first))
    asyncio.run(two())
    acks = [s for s in steps if s.startswith("ack")]
    assert sorted(acks) == ["ack a", "ack b"]
    flushes = [i for i, s in enumerate(steps) if s == "flush"]
    first_ack = steps.index(acks[0])
    assert flushes[1] > first_ack  # the second starts once the first has acknowledged


def test_acknowledgement_is_asked_at_the_last_step():
    steps = Steps()
    cp = checkpoint(steps)
    cp.applied([steps.event("a")])
    captured = cp.capture()
    still_mine = [True]

    async def revoked_meanwhile():
        task = asyncio.ensure_future(cp.complete(captured, ack=lambda: still_mine[0]))
        still_mine[0] = False  # a revocation while the tables are written
        await task
    asyncio.run(revoked_meanwhile())
    assert "confirmed index" in steps and "ack a" not in steps


def test_nothing_applied_writes_nothing():
    steps = Steps()
    asyncio.run(checkpoint(steps).commit())
    assert steps == []


def test_entries_without_events_are_written_when_asked():
    steps = Steps()
    asyncio.run(checkpoint(steps).commit(without_events=True))
    assert steps == ["entries for 0", "flush", "write book@3", "write index@3",
                     "producer flush", "confirmed book", "confirmed index"]
    none = Steps()
    cp = Checkpoint(none.output(), none.app(), lambda events: [])
    assert cp.capture(without_events=True) is None  # no entries either: nothing to do


def test_at_a_revocation_nothing_is_acknowledged():
    steps = Steps()
    cp = checkpoint(steps)
    cp.applied([steps.event("a")])
    asyncio.run(cp.commit(ack=False))
    assert "ack a" not in steps and "confirmed index" in steps
    assert not cp.pending


def test_a_checkpoint_at_revocation_writes_without_acknowledging():
    steps = Steps()
    cp = checkpoint(steps)
    cp.applied([steps.event("a")])
    asyncio.run(cp.commit_at_revocation())
    assert "ack a" not in steps and "confirmed index" in steps
    assert not cp.pending


def test_a_failed_checkpoint_at_revocation_is_logged_and_its_events_dropped(caplog):
    steps = Steps()

    def entries(events):
        raise RuntimeError("broker away")

    cp = Checkpoint(steps.output(), steps.app(), entries, stage="settlement")
    cp.applied([steps.event("a")])
    asyncio.run(cp.commit_at_revocation())  # does not raise: the new owner replays
    assert "ack a" not in steps and not cp.pending
    assert "settlement: checkpoint at revocation failed" in caplog.text


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


def test_a_changelog_write_the_broker_has_not_confirmed_is_reported_as_blocked(monkeypatch):
    """A wait for the changelog writes is visible (logs, metrics) while it lasts, and the
    input is acknowledged only once they are confirmed."""
    monkeypatch.setattr(checkpoint_module, "FLUSH_REPORT_S", 0.01)
    steps = Steps()
    output = steps.output()
    output.health = SimpleNamespace(
        blocked=lambda reason, detail, retry_in: steps.append(f"blocked {reason}"),
        cleared=lambda: steps.append("cleared"))

    class SlowTable:
        async def write(self, key, value, partition):
            delivered = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_later(0.05, delivered.set_result, None)
            return delivered

    cp = Checkpoint(output, steps.app(), lambda events: [(SlowTable(), b"k", b"v", 0)])
    cp.applied([steps.event("a")])
    asyncio.run(cp.commit())
    assert steps.count("blocked broker") >= 2
    assert steps[-2:] == ["cleared", "ack a"]
