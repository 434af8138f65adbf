"""Large array parameters dumped fast: bigint[] and text[] in PostgreSQL's binary format.

psycopg dumps a list element by element in Python (finding the element type, then one
dumper call per item), which was a quarter of the settlement stage's CPU with batches
of tens of thousands of rows. Here a list of ints or strs is packed with struct in one
pass. Wrap a list as Int8s or Texts and send it with a %b placeholder; on a connection
or cursor where these dumpers were not registered it is dumped as any list would be.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

import psycopg
from psycopg import pq
from psycopg.adapt import Dumper

_INT8_OID, _TEXT_OID = 20, 25
_INT8_ARRAY_OID, _TEXT_ARRAY_OID = 1016, 1009
_HEADER = struct.Struct(">iiIii")  # ndim, has nulls, element oid, length, lower bound
_EMPTY = struct.Struct(">iiI")  # ndim 0, no nulls, element oid
_LENGTH = struct.Struct(">i").pack
_INT8_CELL = struct.Struct(">iq").pack  # length 8, then the value
_NULL_CELL = _LENGTH(-1)


class Int8s(list):
    """A list of ints (or None), sent as bigint[]."""

    packed: bytes | None = None

    def pack(self) -> Int8s:
        """Pack it now (e.g. while the server works on something else), not when sent."""
        self.packed = pack_int8s(self)
        return self


class Texts(list):
    """A list of strs (or None), sent as text[]."""

    packed: tuple[str, bytes] | None = None  # (encoding, the array)

    def pack(self, encoding: str = "utf-8") -> Texts:
        """Pack it now (e.g. while the server works on something else), not when sent."""
        self.packed = (encoding, pack_texts(self, encoding))
        return self


def int8s(values: Iterable[int]) -> Int8s:
    return Int8s(values)


def texts(values: Iterable[str | None]) -> Texts:
    return Texts(values)


def pack_int8s(values: list) -> bytes:
    n = len(values)
    if not n:
        return _EMPTY.pack(0, 0, _INT8_OID)
    if None in values:
        return _HEADER.pack(1, 1, _INT8_OID, n, 1) + b"".join(
            _NULL_CELL if v is None else _INT8_CELL(8, v) for v in values)
    cells = [8] * (2 * n)  # each element: its length (8), then its value
    cells[1::2] = values
    return _HEADER.pack(1, 0, _INT8_OID, n, 1) + struct.pack(">" + "iq" * n, *cells)


def pack_texts(values: list, encoding: str) -> bytes:
    n = len(values)
    if not n:
        return _EMPTY.pack(0, 0, _TEXT_OID)
    if None in values:
        data = [b"" if v is None else v.encode(encoding) for v in values]
        lengths = [-1 if v is None else len(d) for v, d in zip(values, data)]
    else:
        # encoded and split in C: a NUL separates them (PostgreSQL text holds no NUL)
        data = "\0".join(values).encode(encoding).split(b"\0")
        if len(data) != n:  # one held a NUL after all: the server will refuse it
            data = [v.encode(encoding) for v in values]
        lengths = list(map(len, data))
    parts = [b""] * (2 * n)  # each element: its length (-1: NULL), then its bytes
    parts[0::2] = map(_LENGTH, lengths)
    parts[1::2] = data
    return _HEADER.pack(1, int(-1 in lengths), _TEXT_OID, n, 1) + b"".join(parts)


class Int8sDumper(Dumper):
    format = pq.Format.BINARY
    oid = _INT8_ARRAY_OID

    def dump(self, obj: Int8s) -> bytes:
        return obj.packed if obj.packed is not None else pack_int8s(obj)


class TextsDumper(Dumper):
    format = pq.Format.BINARY
    oid = _TEXT_ARRAY_OID

    def __init__(self, cls: type, context=None) -> None:
        super().__init__(cls, context)
        conn = self.connection
        self._encoding = conn.info.encoding if conn is not None else "utf-8"

    def dump(self, obj: Texts) -> bytes:
        if obj.packed is not None and obj.packed[0] == self._encoding:
            return obj.packed[1]
        return pack_texts(obj, self._encoding)


def register(adapters: psycopg.adapt.AdaptersMap = psycopg.adapters) -> None:
    """The dumpers, on every connection made afterwards (psycopg's global map) by default."""
    adapters.register_dumper(Int8s, Int8sDumper)
    adapters.register_dumper(Texts, TextsDumper)
