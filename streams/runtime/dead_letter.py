"""Dead letters: what could not be decoded or applied, with where it came from.

A letter is bounded whatever the record: the first PREFIX_BYTES of the value (as UTF-8
with replacement), its size and SHA-256, and a bounded key and error. A letter must
never be too large to produce, or the stage that writes it would stop.
"""

from __future__ import annotations

import hashlib
import logging

from schemas.codec import DecodeError
from schemas.records import DeadLetter

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
