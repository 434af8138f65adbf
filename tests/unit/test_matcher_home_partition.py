"""One writer per book (invariant 9): a symbol's commands are applied only from its home
partition of `orders`; on any other they are rejected NOT_HOME_PARTITION and settlement
releases what the gate reserved. A model-based fuzz of the matcher's recovery found five
ways a symbol on two partitions corrupted its book (issue 30); each has its minimal case
below, now impossible, and the property test runs the model (tests/matcher_model.py) on
random logs, reads, checkpoints, crashes and late writes of a zombie."""

from __future__ import annotations

import logging

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.codec import MATCHER_RESULTS, ORDER_BATCH
from schemas.records import AcceptedCancel
from tests.matcher_model import SPECS, Log, Table, Worker, cancel, new, reference


def events(worker: Worker) -> list[dict]:
    return [msgspec.json.decode(v) for v in worker.published("order-events")]


def refused(worker: Worker) -> list[tuple[str, str]]:
    return [(e["order_id"], e["status"]) for e in events(worker)
            if e["reason"] == "NOT_HOME_PARTITION"]


def releases(worker: Worker) -> list[str]:
    return [r.order_id for v in worker.published("matcher-results")
            for r in MATCHER_RESULTS.decode(v).releases]


def test_a_command_off_its_home_is_rejected_and_its_reservation_released(caplog):
    worker = Worker(Log(), Table())
    log = worker.log
    log.produce(0, "ACME", new("s1", "ACME", "SELL", 5, 100))
    log.produce(1, "ACME", new("b1", "ACME", "BUY", 5, 100, account="bob"),
                cancel("s1", "ACME"))
    log.produce(1, "ACME", new("b2", "ACME", "BUY", 1, 100, account="bob"))
    caplog.set_level(logging.WARNING, logger="matchstream.matcher")
    worker.read(0)
    before = worker.books()
    worker.read(1)
    assert refused(worker) == [("b1", "REJECTED"), ("s1", "CANCEL_REJECTED"),
                               ("b2", "REJECTED")]
    assert releases(worker) == ["b1", "b2"]  # a refused cancel holds nothing
    # on ACME's home partition of matcher-results, with the rest of its results
    assert worker.partitions_of("matcher-results") == {0}
    assert worker.books() == before and not worker.published("trades")
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 1 and "orders[1]" in warned[0] and "home partition is 0" in warned[0]
    assert worker.matcher.take_positions() == {0: 1, 1: 2}


def test_a_command_off_its_home_makes_no_book():
    worker = Worker(Log(), Table())
    worker.log.produce(1, "ACME", new("b1", "ACME", "BUY", 5, 100))
    worker.read(1)
    assert refused(worker) == [("b1", "REJECTED")] and worker.state.get("ACME") is None


# -- the fuzz's minimal cases -----------------------------------------------------------

def test_a_gate_request_on_another_partition_does_not_skip_an_earlier_one():
    """A: request 1 on ACME's home, request 2 (same gate partition) on another partition,
    read first: request 2 was taken, and request 1 then skipped as the gate's duplicate."""
    worker = Worker(Log(), Table())
    worker.log.produce(0, "ACME", new("s1", "ACME", "SELL", 5, 100, source=(3, 1)))
    worker.log.produce(1, "ACME", new("s2", "ACME", "SELL", 5, 101, source=(3, 2)))
    worker.read(1)
    worker.read(0)
    assert refused(worker) == [("s2", "REJECTED")]
    assert list(worker.state.get("ACME").book.index) == ["s1"]
    assert worker.books() == reference(worker.log)[0]


def test_a_command_seen_before_its_homes_restore_neither_is_lost_nor_replaces_the_book():
    """B: after a restart, a command on another partition read before the home's first
    event made an empty book, which the home's restore then replaced."""
    log, table = Log(), Table()
    first = Worker(log, table)
    log.produce(0, "ACME", new("s1", "ACME", "SELL", 5, 100))
    first.read(0)
    first.checkpoint(every=True)
    restarted = Worker(log, table)
    log.produce(1, "ACME", new("b1", "ACME", "BUY", 2, 100, account="bob"))
    restarted.read(1)
    assert refused(restarted) == [("b1", "REJECTED")] and restarted.state.get("ACME") is None
    log.produce(0, "ACME", new("b2", "ACME", "BUY", 3, 100, account="bob"))
    restarted.read(0)
    assert restarted.books() == reference(log)[0]


def test_a_zombies_stale_snapshot_hides_no_command():
    """C: a snapshot a zombie wrote late is behind the index: the home partition is
    replayed from where it stops; a command on another partition stays rejected."""
    log, table = Log(), Table()
    worker = Worker(log, table)
    log.produce(0, "ACME", new("s1", "ACME", "SELL", 5, 100))
    worker.read(0)
    worker.checkpoint(every=True)
    stale = table.entries[("book", 0, "ACME")]
    log.produce(0, "ACME", new("s2", "ACME", "SELL", 5, 101))
    log.produce(1, "ACME", new("s3", "ACME", "SELL", 5, 102))
    worker.read(0)
    worker.read(1)
    worker.checkpoint(every=True)
    table.write(("book", 0, "ACME"), stale)  # the zombie's write lands after the checkpoint
    restarted = Worker(log, table)
    restarted.read(1)
    restarted.read(0)
    assert sorted(restarted.state.get("ACME").book.index) == ["s1", "s2"]
    assert restarted.books() == reference(log)[0]
    assert refused(worker) == [("s3", "REJECTED")] and not refused(restarted)  # committed


def test_a_replay_applies_the_same_commands_in_the_same_order():
    """D: nothing recorded how two partitions' commands interleaved, so a replay could
    trade otherwise than what was published. Now one order: the home partition's."""
    log = Log()
    log.produce(0, "ACME", new("s1", "ACME", "SELL", 5, 100))
    log.produce(1, "ACME", new("b1", "ACME", "BUY", 5, 100, account="bob"))
    log.produce(0, "ACME", new("b2", "ACME", "BUY", 3, 100, account="carol"))
    one, other = Worker(log, Table()), Worker(log, Table())
    one.read(0, 1)
    one.read(1)
    one.read(0)
    other.read(1)
    other.read(0)
    assert one.published("trades") == other.published("trades") == list(
        reference(log)[1].values())
    assert one.books() == other.books() == reference(log)[0]
    assert refused(one) == refused(other) == [("b1", "REJECTED")]


def test_a_worker_without_the_home_partition_keeps_no_book_of_the_symbol():
    """E: the other partition's worker kept a book of its own of the symbol."""
    log = Log()
    home, other = Worker(log, Table()), Worker(log, Table())
    log.produce(0, "ACME", new("s1", "ACME", "SELL", 5, 100))
    log.produce(1, "ACME", new("b1", "ACME", "BUY", 5, 100, account="bob"))
    home.read(0)
    other.read(1)
    assert other.state.get("ACME") is None and refused(other) == [("b1", "REJECTED")]
    assert home.books() == reference(log)[0] and not home.published("trades")


# -- the property ------------------------------------------------------------------------

ORDER_IDS = [f"o{i}" for i in range(12)]
command = st.one_of(
    st.builds(lambda oid, side, quantity, price, account: ("new", oid, side, quantity, price,
                                                           account),
              st.sampled_from(ORDER_IDS), st.sampled_from(["BUY", "SELL"]), st.integers(1, 5),
              st.integers(98, 102), st.sampled_from(["alice", "bob", "carol"])),
    st.builds(lambda oid: ("cancel", oid), st.sampled_from(ORDER_IDS)))
step = st.one_of(
    # a record of one symbol on a partition (the other partition: off its home)
    st.tuples(st.just("produce"), st.sampled_from(["ACME", "BOLT"]), st.booleans(),
              st.lists(command, min_size=1, max_size=3), st.booleans()),
    st.tuples(st.just("read"), st.sampled_from([0, 1]), st.integers(1, 3)),
    st.tuples(st.just("checkpoint"), st.booleans()),
    st.tuples(st.just("crash")),
    st.tuples(st.just("zombie"), st.integers(0, 1_000)))


def _produce(log: Log, sources: dict, symbol: str, foreign: bool, commands: list,
             twice: bool) -> None:
    home = 0 if symbol == "ACME" else 1
    made = []
    for c in commands:
        gate = sources["next"] % 2  # two gate partitions, each in offset order
        sources["next"] += 1
        sources[gate] = sources.get(gate, -1) + 1
        source = (gate, sources[gate])
        made.append(new(f"{symbol}-{c[1]}", symbol, c[2], c[3], c[4], account=c[5],
                        source=source) if c[0] == "new"
                    else cancel(f"{symbol}-{c[1]}", symbol, source=source))
    log.produce(1 - home if foreign else home, symbol, *made)
    if twice:  # a gate replay: the same commands again, same sources
        log.produce(1 - home if foreign else home, symbol, *made)


@settings(max_examples=400, deadline=None)
@given(st.lists(step, min_size=10, max_size=50))
def test_recovery_gives_the_books_and_trades_of_one_replay_of_each_home(steps):
    log, table = Log(), Table()
    worker = Worker(log, table)
    sources = {"next": 0}
    published: dict[str, bytes] = {}
    workers = [worker]
    for s in steps:
        if s[0] == "produce":
            _produce(log, sources, *s[1:])
        elif s[0] == "read":
            worker.read(s[1], s[2])
        elif s[0] == "checkpoint":
            worker.checkpoint(every=s[1])
        elif s[0] == "crash":
            worker = Worker(log, table)
            workers.append(worker)
        else:  # a zombie's snapshot of a book lands late, over a newer one
            snapshots = [w for w in table.written if w[0][0] == "book"]
            if snapshots:
                key, value = snapshots[s[1] % len(snapshots)]
                table.entries[key] = value
    for partition in (0, 1):
        worker.read(partition)
    books, trades = reference(log)
    assert worker.books() == books
    for w in workers:
        for value in w.published("trades"):
            trade_id = msgspec.json.decode(value)["trade_id"]
            assert published.setdefault(trade_id, value) == value  # ids never reused
    assert published == trades  # every trade of the replay, each the same
    assert {r for w in workers for r in refused(w)} == _off_home(log)


def _off_home(log: Log) -> set[tuple[str, str]]:
    """(order id, status) of the rejection of every command off its symbol's home."""
    out = set()
    for partition, values in log.partitions.items():
        for value in values:
            batch = ORDER_BATCH.decode(value)
            if SPECS[batch.symbol].home_partition != partition:
                out.update((c.order_id, "CANCEL_REJECTED" if type(c) is AcceptedCancel
                            else "REJECTED") for c in batch.commands)
    return out
