"""Settlement and the candles are two agents of one stage on the same records
(streams/runtime/stages.py). What makes that safe is Faust's: a record delivered to two
agents is committable only once both have acknowledged it, so one agent's checkpoint
never commits past what the other has made durable."""

from __future__ import annotations

from faust.types import ConsumerMessage

from streams.runtime.stages import STAGES


class Consumer:
    def __init__(self) -> None:
        self.acked: list[int] = []

    def ack(self, message) -> bool:
        self.acked.append(message.offset)
        return True


def _message(offset: int) -> ConsumerMessage:
    return ConsumerMessage("matcher-results", 0, offset, 0.0, 0, None, b"ACME", b"{}", None)


def test_a_record_two_agents_read_is_committable_only_once_both_acknowledge():
    consumer, message = Consumer(), _message(7)
    message.incref(2)  # what Faust's conductor does for a record two agents subscribe to
    message.ack(consumer)  # settlement's checkpoint
    assert consumer.acked == []
    message.ack(consumer)  # the candles' checkpoint
    assert consumer.acked == [7]


def test_settlement_and_the_candles_are_one_stage():
    modules, topics = STAGES["settlement"]
    assert modules == ("streams.settlement", "streams.candles")
    assert topics == ("matcher-results",)
    assert all(len(m) == 1 for name, (m, _) in STAGES.items() if name != "settlement")
