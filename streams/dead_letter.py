"""Records that cannot be decoded go to dead-letters with where they came from."""

from __future__ import annotations

import logging

from schemas.codec import DecodeError, encode
from schemas.records import DeadLetter

log = logging.getLogger(__name__)


def dead_letter(error: DecodeError, topic: str, partition: int, offset: int,
                key: bytes | None) -> DeadLetter:
    log.warning("dead letter from %s[%d]@%d: %s", topic, partition, offset, error.detail)
    return DeadLetter(
        topic=topic,
        partition=partition,
        offset=offset,
        error=error.detail,
        key=key.decode("utf-8", "replace") if key is not None else None,
        value=error.raw.decode("utf-8", "replace"),
    )


def dead_letter_bytes(letter: DeadLetter) -> bytes:
    return encode(letter)
