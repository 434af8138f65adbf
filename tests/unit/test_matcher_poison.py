"""The matcher stage (streams/matcher_records.py) with a command that raises inside the
engine: it becomes that command's dead letter, the batch goes on, and what is published
for the batch is what a batch without that command publishes. No Kafka: events are
stubs shaped like the agent's."""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec

from engine.breaker import Breaker
from engine.spec import SymbolSpec
from schemas.codec import DEAD_LETTER, encode
from schemas.records import AcceptedOrder, OrderBatch
from streams.matcher_records import RecordMatcher
from streams.matcher_state import MatcherState
from streams.runtime.events import FetchedEvent, FetchedMessage
from streams.runtime.health import StageHealth

SPEC = SymbolSpec("ACME", reference_price=10_000)
T0 = 1_700_000_000_000


def event(partition: int, offset: int, value: bytes) -> FetchedEvent:
    """What the agent hands RecordMatcher of a Faust event: key, value, message."""
    return FetchedEvent(b"ACME", value, FetchedMessage("orders", partition, offset))


@dataclass
class Sent:
    records: list = field(default_factory=list)

    def send(self, topic, key, value, partition=None, headers=None) -> None:
        self.records.append((topic, key, value))


def matcher() -> RecordMatcher:
    state = MatcherState()
    state.create(SPEC)  # its home: partition 0
    topics = {name: name for name in ("trades", "order-events", "halts", "book", "quotes",
                                      "matcher-results")}
    return RecordMatcher(state, Sent(), topics, "orders", "dead-letters",
                         StageHealth("matcher"))


def apply(m: RecordMatcher, events: list) -> None:
    decoded = m.decode(events)
    assert m.unknown_symbols(decoded) == set()
    m.apply(decoded, {})


def command(order_id, side, quantity, price, account="alice") -> AcceptedOrder:
    return AcceptedOrder(order_id=order_id, account=account, symbol="ACME", side=side,
                         order_type="LIMIT", tif="GTC", quantity=quantity, price=price, ts=T0)


def new(*args, **kwargs) -> bytes:
    """An `orders` record of one command."""
    return encode(OrderBatch("ACME", [command(*args, **kwargs)]))


SETUP = [new("s1", "SELL", 5, 10_000), new("s2", "SELL", 5, 10_050),
         new("s3", "SELL", 5, 10_100)]
GOOD = new("b1", "BUY", 2, 10_000, account="bob")
SWEEP_COMMAND = command("sweep", "BUY", 12, 10_100, account="carol")  # through two levels
SWEEP = encode(OrderBatch("ACME", [SWEEP_COMMAND]))
LATER = new("s4", "SELL", 1, 10_200)


def breaker_raises_on_second_level(monkeypatch) -> None:
    real = Breaker.record
    calls = []

    def record(self, ts, price):
        calls.append(price)
        if len(calls) == 2:
            raise ZeroDivisionError("the engine broke half way")
        real(self, ts, price)

    monkeypatch.setattr(Breaker, "record", record)


def run(monkeypatch, poison: bool) -> RecordMatcher:
    m = matcher()
    apply(m, [event(0, i, v) for i, v in enumerate(SETUP)])
    if poison:
        breaker_raises_on_second_level(monkeypatch)
    # the batch's quote is read from the book when the batch ends, after the poison
    apply(m, [event(0, 3, GOOD)] + ([event(0, 4, SWEEP)] if poison else []))
    monkeypatch.undo()
    apply(m, [event(0, 5, LATER)])
    return m


def test_a_command_that_breaks_the_engine_is_dead_lettered_and_the_batch_goes_on(monkeypatch):
    m, clean = run(monkeypatch, poison=True), run(monkeypatch, poison=False)

    letters = [r for r in m.output.records if r[0] == "dead-letters"]
    assert len(letters) == 1
    letter = DEAD_LETTER.decode(letters[0][2])
    assert (letter.topic, letter.partition, letter.offset) == ("orders", 0, 4)
    assert "ZeroDivisionError" in letter.error and letter.value == encode(SWEEP_COMMAND).decode()
    published = [r for r in m.output.records if r[0] != "dead-letters"]
    assert published == clean.output.records
    quotes = [msgspec.json.decode(r[2]) for r in published if r[0] == "quotes"]
    assert [(q["bid"], q["ask"], q["ask_size"]) for q in quotes] == [
        (None, 10_000, 5), (None, 10_000, 3), (None, 10_000, 3)]
    assert m.take_positions() == {0: 6}

