"""Records Faust has not delivered at the end of a quiet partition (TailWatch,
streams/runtime/faust_fixes/position_guard.py): when a partition counts as quiet, and what
is read back."""

from __future__ import annotations

import time

from streams.runtime.faust_fixes.position_guard import TailWatch, to_read

A, B = ("orders", 0), ("orders", 1)


def test_reads_from_the_position_to_the_end_where_records_wait():
    assert to_read([A, B], {A: 5, B: 7}, {A: 9, B: 7}) == {A: (5, 9)}


def test_a_partition_without_a_position_or_an_end_is_left_alone():
    assert to_read([A, B], {A: 5}, {B: 9}) == {}


def test_quiet_only_once_nothing_was_delivered_for_the_quiet_time():
    watch = TailWatch("matcher", "127.0.0.1:1", "group", quiet_s=0.05)
    assert not watch.due()  # no partition yet
    watch.delivered({A})
    assert not watch.due()
    time.sleep(0.06)
    assert watch.due()
    watch.delivered({A})
    assert not watch.due()


def test_revoked_partitions_are_forgotten():
    watch = TailWatch("matcher", "127.0.0.1:1", "group", quiet_s=0.0)
    watch.delivered({A, B})
    watch.forget(lambda key: key != B)
    assert set(watch.quiet_since) == {A}
