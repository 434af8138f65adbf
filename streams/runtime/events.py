"""Records read straight from Kafka, not through Faust: the gate's loop (`direct`) and the
position guard's read-back (`faust_fixes/position_guard.py`) make them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FetchedMessage:
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class FetchedEvent:
    """Shaped like the Faust events the agents use: key, value, message, ack()."""

    key: bytes | None
    value: bytes | None
    message: FetchedMessage

    def ack(self) -> bool:
        return True  # Faust never delivered it, so there is nothing of Faust's to ack
