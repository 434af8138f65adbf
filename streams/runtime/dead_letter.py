"""Dead letters: what could not be decoded or applied, with where it came from.

`dead_letter` is the one builder of a DeadLetter record, and `DeadLetters` the one way a
stage sends one: it logs `topic[partition]@offset` and the reason, counts the record in
the stage's health metrics and sends the letter to `dead-letters`, keyed by the source
topic. Which records become dead letters is the error policy's call
(streams/runtime/resilient.py for database work; the stages for what cannot be decoded).

A letter is bounded whatever the record: the first PREFIX_BYTES of the value (as UTF-8
with replacement), its size and SHA-256, and a bounded key and error. A letter must
never be too large to produce, or the stage that writes it would stop.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Protocol

from schemas.codec import DecodeError, encode
from schemas.records import DeadLetter
from streams.runtime.health import StageHealth

log = logging.getLogger(__name__)

PREFIX_BYTES = 1024
KEY_BYTES = 256
ERROR_CHARS = 1000


def dead_letter(error: DecodeError, topic: str, partition: int, offset: int,
                key: bytes | None) -> DeadLetter:
    detail = error.detail if len(error.detail) <= ERROR_CHARS else (
        error.detail[:ERROR_CHARS] + f" ... ({len(error.detail)} characters)")
    log.warning("dead letter from %s[%d]@%d: %s", topic, partition, offset, detail[:200])
    raw = error.raw
    return DeadLetter(
        topic=topic,
        partition=partition,
        offset=offset,
        error=detail,
        key=key[:KEY_BYTES].decode("utf-8", "replace") if key is not None else None,
        value=raw[:PREFIX_BYTES].decode("utf-8", "replace"),
        size=len(raw),
        sha256=hashlib.sha256(raw).hexdigest(),
    )


class Sink(Protocol):
    def send(self, topic: str, key: bytes | None, value: bytes | None,
             partition: int | None = None, headers: list | None = None) -> None: ...


class DeadLetters:
    """A stage's dead letters: built, logged, counted and sent, in one place.

    `topic`: the full name of the dead-letters topic; `output` makes the send durable
    before the stage commits its offsets (streams/runtime/output.py)."""

    def __init__(self, output: Sink, topic: str, health: StageHealth) -> None:
        self.output = output
        self.topic = topic
        self.health = health

    def send(self, error: DecodeError, topic: str, partition: int, offset: int,
             key: bytes | None) -> None:
        """Dead-letter the record at topic[partition]@offset for the reason in `error`."""
        letter = dead_letter(error, topic, partition, offset, key)
        self.output.send(self.topic, topic.encode(), encode(letter))
        self.health.dead_lettered(topic)

    def refused(self, exc: Exception, topic: str, partition: int, offset: int,
                key: bytes | None, value: bytes | None) -> None:
        """Dead-letter a record the error policy proved cannot be applied on its own."""
        self.send(DecodeError(f"cannot be applied: {exc}", value or b""), topic, partition,
                  offset, key)
