"""Every trade record the matcher sends carries when its batch began to apply (the
`applied_us` header bench.load's breakdown reads); no other record does."""

from __future__ import annotations

import time

from streams.matcher_records import APPLIED_HEADER, RecordMatcher
from streams.matcher_state import MatcherState
from streams.runtime.events import FetchedEvent, FetchedMessage
from streams.runtime.health import StageHealth
from tests.unit.test_matcher_poison import SPEC, new

TOPICS = {name: name for name in ("trades", "order-events", "halts", "book", "quotes",
                                  "matcher-results")}


class Sent:
    def __init__(self) -> None:
        self.records: list[tuple[str, list | None]] = []

    def send(self, topic, key, value, partition=None, headers=None) -> None:
        self.records.append((topic, headers))


def test_trades_carry_when_their_batch_began() -> None:
    state = MatcherState()
    state.create(SPEC)
    sent = Sent()
    matcher = RecordMatcher(state, sent, TOPICS, "orders", "dead-letters",
                            StageHealth("matcher"))
    events = [FetchedEvent(b"ACME", value, FetchedMessage("orders", 0, offset))
              for offset, value in enumerate([new("s1", "SELL", 5, 10_000),
                                              new("b1", "BUY", 2, 10_000, account="bob")])]
    before = time.time_ns() // 1000
    matcher.apply(matcher.decode(events), {})
    after = time.time_ns() // 1000
    trades = [headers for topic, headers in sent.records if topic == "trades"]
    assert len(trades) == 1
    (name, value), = trades[0]
    assert name == APPLIED_HEADER and before <= int(value) <= after
    assert all(headers is None for topic, headers in sent.records if topic != "trades")
