"""When the recovery watch (streams/runtime/faust_fixes/recovery_watch.py) calls a changelog
partition stalled: records left to read, and none received for the stall time."""

from streams.runtime.faust_fixes.recovery_watch import stalled

STALL_S = 45.0


def test_a_partition_with_nothing_left_is_never_stalled():
    assert stalled(1000.0, 0.0, {}, {"p0": 0}, STALL_S) == []


def test_nothing_received_since_the_recovery_started():
    assert stalled(100.0, 50.0, {}, {"p0": 3}, STALL_S) == ["p0"]
    assert stalled(94.0, 50.0, {}, {"p0": 3}, STALL_S) == []


def test_counted_from_the_last_record_received():
    received = {"p0": 90.0, "p1": 40.0}
    assert stalled(100.0, 10.0, received, {"p0": 5, "p1": 5}, STALL_S) == ["p1"]


def test_a_record_received_before_this_recovery_started_does_not_count():
    assert stalled(100.0, 60.0, {"p0": 10.0}, {"p0": 5}, STALL_S) == []
    assert stalled(106.0, 60.0, {"p0": 10.0}, {"p0": 5}, STALL_S) == ["p0"]
