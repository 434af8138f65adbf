"""Decode at the edge: bytes in, a record or a typed DecodeError out, never an exception."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec

from schemas.records import (
    CancelAllRequest,
    CancelRequest,
    DeadLetter,
    Halt,
    MatcherResults,
    NewOrderRequest,
    OrderBatch,
    OrderEvent,
    Trade,
)

T = TypeVar("T")

_encoder = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class DecodeError:
    """Bytes that are not a valid record: why, in words a client can act on."""

    detail: str
    raw: bytes


MAX_RECORD_BYTES = 64 * 1024  # a record of ours is well under 1 KiB


class Codec:
    def __init__(self, record_type: Any, max_bytes: int = MAX_RECORD_BYTES) -> None:
        self._decoder = msgspec.json.Decoder(record_type)
        self._max_bytes = max_bytes

    def decode(self, raw: bytes | None) -> Any | DecodeError:
        if raw is None:
            return DecodeError("empty record (no value)", b"")
        if len(raw) > self._max_bytes:
            return DecodeError(f"record of {len(raw):,} bytes, over the limit of "
                               f"{self._max_bytes:,}", raw)
        try:
            return self._decoder.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return DecodeError(str(exc), raw)
        except (UnicodeDecodeError, ValueError, OverflowError) as exc:
            return DecodeError(f"undecodable bytes: {exc}", raw)


encode: Callable[[Any], bytes] = _encoder.encode  # bound: the matcher calls it per record


ORDER_REQUEST = Codec(NewOrderRequest | CancelRequest | CancelAllRequest)
# a gate batch holds up to 3,000 commands (streams/gate.py) of 230-360 bytes
ORDER_BATCH = Codec(OrderBatch, max_bytes=4 * 1024 * 1024)
# a matcher batch of one symbol: up to 5,000 commands, each with its trades
MATCHER_RESULTS = Codec(MatcherResults, max_bytes=32 * 1024 * 1024)
ORDER_EVENT = Codec(OrderEvent)
TRADE = Codec(Trade)
HALT = Codec(Halt)
DEAD_LETTER = Codec(DeadLetter)
