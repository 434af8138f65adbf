"""Partitions grow while the platform runs (`matchstream topics --partitions N`): nothing
already listed moves, new symbols spread over every partition, a running worker takes the
new partitions, and a worker killed after the growth recovers every book."""

from __future__ import annotations

import signal

import pytest
from confluent_kafka.admin import NewPartitions

from infra import topics
from infra.kafka_client import partition_for
from infra.partitions import PartitionsRefused, grow
from ledger import admin
from schemas.codec import MATCHER_RESULTS
from streams.runtime.output import DeliveryFailed, Output
from tests.integration.test_bad_input import (  # noqa: F401 (own_web_port: an autouse fixture)
    WAIT,
    Feed,
    flush,
    order,
    own_web_port,
    send_at,
    wait_status,
)
from tests.platform import Platform
from tests.replay import assert_settled_equals_replay, read_partitions

OLD = ("ACME", "BOLT", "CRUX", "DYNE")


def symbols_landing(low: int, high: int, count: int, partitions: int) -> list[str]:
    """`count` symbol names whose key lands on a partition in [low, high) of `partitions`."""
    found = []
    for i in range(1000):
        name = f"N{i:03d}"
        if low <= partition_for(name.encode(), partitions) < high:
            found.append(name)
            if len(found) == count:
                return found
    raise AssertionError("no such symbols")


def fill(p: Platform, tag: str, symbol: str, resting: bool = False) -> None:
    """bob buys 10 `symbol` at $100.00 from alice; with `resting`, against her order that
    rests since before (`rest`), else against a new one."""
    if not resting:
        p.send("order-requests", b"alice", order(f"{tag}-s", "alice", symbol, "SELL", 10,
                                                 10_000))
    p.send("order-requests", b"bob", order(f"{tag}-b", "bob", symbol, "BUY", 10, 10_000))


def filled(p: Platform, feed: Feed, *order_ids: str) -> None:
    p.flush()
    for order_id in order_ids:
        feed.status(order_id, "FILLED")
        wait_status(p, feed, order_id, "FILLED")


def test_partitions_grow_while_a_worker_runs(platform):
    p = platform
    for symbol in OLD:
        p.symbol(symbol)
    p.account("alice", cash=0, **{symbol: 1_000 for symbol in OLD})
    p.account("bob", cash=100_000_000)
    worker = p.start_worker()
    p.wait_ready(worker)
    feed = Feed(p, [worker.log_path])
    for symbol in OLD:  # a trade each, and a resting sell each that stays through the growth
        fill(p, f"before-{symbol}", symbol)
        p.send("order-requests", b"alice", order(f"rest-{symbol}", "alice", symbol, "SELL", 10,
                                                 10_000))
    filled(p, feed, *(f"before-{s}-{side}" for s in OLD for side in "sb"))
    for symbol in OLD:
        wait_status(p, feed, f"rest-{symbol}", "ACCEPTED")
    homes = {s: p.scalar("SELECT home_partition FROM symbols WHERE symbol = :s", s=s)
             for s in OLD}

    said: list[str] = []
    grown = grow(p.settings, 8, say=said.append)
    changelogs = topics.changelogs(p.settings)  # the worker's stages made all three
    assert grown == {name: (4, 8) for name in
                     [p.topic(t) for t in topics.GROWN] + changelogs}
    assert [line for line in said if "->" in line] == [
        f"topics: {name}: 4 -> 8 partitions" for name in grown]
    assert topics.counts(p.settings, list(grown)) == {name: 8 for name in grown}
    assert grow(p.settings, 8, say=said.append) == {}  # idempotent
    assert said[-1].endswith("have 8 partitions already")
    with pytest.raises(PartitionsRefused, match="cannot shrink to 4 partitions"):
        grow(p.settings, 4)
    assert topics.counts(p.settings, list(grown)) == {name: 8 for name in grown}
    p.orders_partitions = 8

    # existing symbols keep their home; new ones land where their key does among 8, some
    # on the new partitions
    new = symbols_landing(0, 4, 1, 8) + symbols_landing(4, 8, 3, 8)
    for symbol in new:
        p.symbol(symbol)
        admin.adjust(p.db, "alice", symbol, 1_000)
    assert {s: p.scalar("SELECT home_partition FROM symbols WHERE symbol = :s", s=s)
            for s in OLD} == homes
    new_homes = {s: p.scalar("SELECT home_partition FROM symbols WHERE symbol = :s", s=s)
                 for s in new}
    assert new_homes == {s: partition_for(s.encode(), 8) for s in new}
    assert sum(home >= 4 for home in new_homes.values()) == 3

    # alice's key lands on another partition of order-requests now: her order of before,
    # sent again there, is the same order (the gate knows it by id and terms), not a
    # duplicate id nor a second order (the producer sees the new partitions at once, as
    # it would at its next metadata refresh)
    p.producer.list_topics(p.topic("order-requests"), timeout=10)
    again = send_at(p, "order-requests", b"alice", order("rest-ACME", "alice", "ACME", "SELL",
                                                         10, 10_000))
    flush(p, again)
    assert again.partition == partition_for(b"alice", 8) != partition_for(b"alice", 4)

    # the resting orders of before trade; new symbols trade, on the new partitions too
    for symbol in OLD:
        fill(p, f"rest-{symbol}", symbol, resting=True)
    for symbol in new:
        fill(p, f"after-{symbol}", symbol)
    filled(p, feed, *(f"rest-{s}" for s in OLD), *(f"rest-{s}-b" for s in OLD),
           *(f"after-{s}-{side}" for s in new for side in "sb"))
    p.assert_reconciled()
    assert [e.status for e in feed.of("rest-ACME")] == ["ACCEPTED", "FILLED"]
    every_home = {**homes, **new_homes}
    assert_results_on_homes(p, every_home)

    # a worker killed after the growth: its replacement restores every book, on 8 partitions
    for symbol in (*OLD, *new):
        p.send("order-requests", b"alice", order(f"kept-{symbol}", "alice", symbol, "SELL", 10,
                                                 10_000))
    p.flush()
    for symbol in (*OLD, *new):
        wait_status(p, feed, f"kept-{symbol}", "ACCEPTED")
    p.kill_worker(worker, signal.SIGKILL)
    worker = p.start_worker()
    feed.logs = [worker.log_path]
    p.wait_ready(worker)
    for symbol in (*OLD, *new):
        fill(p, f"kept-{symbol}", symbol, resting=True)
    filled(p, feed, *(f"kept-{s}" for s in (*OLD, *new)), *(f"kept-{s}-b" for s in (*OLD, *new)))
    p.assert_reconciled()
    assert_results_on_homes(p, every_home)
    assert_settled_equals_replay(p, (*OLD, *new), WAIT, [worker.log_path])


def assert_results_on_homes(p: Platform, homes: dict[str, int]) -> None:
    """Every `matcher-results` record of a symbol is on its home partition."""
    found = {}
    for partition, records in read_partitions(p.settings.kafka_bootstrap,
                                              p.topic("matcher-results")).items():
        for _, value in records:
            found.setdefault(MATCHER_RESULTS.decode(value).symbol, set()).add(partition)
    assert found == {symbol: {home} for symbol, home in homes.items()}


def test_an_output_sends_to_a_partition_added_since_its_last_metadata_refresh(platform):
    """librdkafka refuses a record for a partition its metadata lacks (_UNKNOWN_PARTITION):
    the stages' output asks the broker and sends it; a partition the topic lacks is a
    DeliveryFailed naming the fix (a stage, with its health, waits blocked instead)."""
    p = platform
    orders = p.topic("orders")
    out = Output(p.settings)
    out.send(orders, b"ACME", b"before", 1)
    out.flush()  # its metadata now shows 4 partitions
    client = topics.admin(p.settings)
    client.create_partitions([NewPartitions(orders, 6)])[orders].result()
    topics.wait_for_leaders(client, [orders], 30, 6)
    out.send(orders, b"ACME", b"after", 5)
    out.flush()
    assert [value for _, value in read_partitions(p.settings.kafka_bootstrap, orders)[5]] \
        == [b"after"]
    with pytest.raises(DeliveryFailed, match=r"has 6 partitions, a record is for partition 6"):
        out.send(orders, b"ACME", b"nowhere", 6)
    out.close()
