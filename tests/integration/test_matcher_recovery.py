"""A book snapshot older than the committed offset is caught up from `orders`.

A matcher frozen past the session timeout can write its snapshots after the group has
moved on (its commit is refused, its snapshot write is not): the books table's changelog
then holds an older book than the committed offset says. The matcher that restores it
must replay from where the snapshot stops, not from the committed offset.
"""

from __future__ import annotations

import signal

from confluent_kafka import Producer

from infra.kafka_client import producer_config
from streams.matcher_state import SNAPSHOT_MAX_AGE_S, decode_snapshot
from streams.runtime.stages import group_id
from tests.integration.test_bad_input import order
from tests.platform import wait_for
from tests.replay import assert_settled_equals_replay, read_partitions


def _changelog(p) -> str:
    """The books table's changelog topic (tables/books.py): Faust names it by app id."""
    return f"{group_id(p.settings, 'matcher')}-books-changelog"


def _snapshots(p) -> list[tuple[int, int, bytes]]:
    """(partition, offset applied from `orders`, blob) of every ACME snapshot, oldest first."""
    out = []
    for partition, records in read_partitions(p.settings.kafka_bootstrap,
                                              _changelog(p)).items():
        for _offset, blob in records:
            if blob.startswith(b"{"):
                continue  # the partition's index (streams/matcher_state.py), not a book
            out.append((partition, decode_snapshot(blob)["applied_offset"], blob))
    return out


def test_a_snapshot_behind_the_committed_offset_is_caught_up(platform):
    p = platform
    p.symbol("ACME", reference_price=10_000)
    p.account("alice", cash=0, ACME=1_000)
    p.account("bob", cash=100_000_000)
    worker = p.start_worker()
    p.wait_ready(worker)
    logs = [worker.log_path]

    # asks in two steps, each snapshotted once its book's snapshot is old enough (a few
    # commands on a small book): two snapshots of ACME's book, written while no input came
    for step, prices in enumerate(((10_100, 10_200), (10_050, 10_150))):
        for n, price in enumerate(prices):
            p.send("order-requests", "alice", order(f"ask{step}{n}", "alice", "ACME", "SELL",
                                                    10, price))
        p.flush()
        wait_for(lambda step=step: p.scalar(
            "SELECT count(*) FROM orders WHERE status = 'ACCEPTED'") == 2 * (step + 1),
            60, "the asks accepted", logs)
        wait_for(lambda step=step: len({s[1] for s in _snapshots(p)}) > step,
                 SNAPSHOT_MAX_AGE_S + 30, f"snapshot {step + 1} of ACME's book", logs)
    p.kill_worker(worker, signal.SIGTERM)  # commits the offsets past every ask
    snapshots = _snapshots(p)
    partition, applied, stale = min(snapshots, key=lambda s: s[1])
    assert applied < max(s[1] for s in snapshots), "need an older snapshot of the book"

    # the older snapshot is written last, as a late writer would
    late = Producer(producer_config(p.settings))
    late.produce(_changelog(p), key=b"%d/ACME" % partition, value=stale, partition=partition)
    assert late.flush(30) == 0

    # bob lifts every ask: the second step's too, which only the orders topic still has
    p.send("order-requests", "bob", order("lift", "bob", "ACME", "BUY", 40, 10_200))
    p.flush()
    worker = p.start_worker()
    logs.append(worker.log_path)
    wait_for(lambda: p.scalar("SELECT status FROM orders WHERE order_id = 'lift'") == "FILLED",
             60, "bob's order filled by all four asks", logs)
    assert p.scalar("SELECT count(*) FROM trades") == 4
    assert_settled_equals_replay(p, ["ACME"], 60, logs)
    p.assert_reconciled()
