"""A symbol's commands on a partition of `orders` other than its book's are applied, and
the matcher warns once per symbol and partition: recovery is exact only for one
partition a symbol (README "Processing guarantees")."""

from __future__ import annotations

import logging

from tests.unit.test_matcher_poison import apply, event, matcher, new


def test_commands_from_a_second_partition_are_applied_with_one_warning(caplog):
    m = matcher()  # ACME's book is on partition 0
    caplog.set_level(logging.WARNING, logger="matchstream.matcher")
    apply(m, [event(0, 0, new("s1", "SELL", 5, 10_000))])
    assert not caplog.records
    apply(m, [event(1, 0, new("s2", "SELL", 5, 10_050)),
              event(1, 1, new("s3", "SELL", 5, 10_100))])
    apply(m, [event(2, 0, new("s4", "SELL", 5, 10_150))])
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 2, warned
    assert "orders[1]" in warned[0] and "orders[2]" in warned[1]
    assert len(m.state.get("ACME").book) == 4  # every command rests in the one book
