"""Which database errors are faults of the world, and which may be a record's own.

A fault of the world (the server unreachable or read-only, a missing privilege or column,
a full disk, a lock conflict) says nothing about the records being written: the work
waits and retries, and nothing is committed meanwhile. Only an error of the classes in
_RECORD_CLASSES (bad data, a violated constraint) or one raised by our own code may be
caused by a record; the stage then still has to prove it (streams/runtime/resilient.py).
"""

from __future__ import annotations

import asyncio

import psycopg
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import InterfaceError as SAInterfaceError
from sqlalchemy.exc import OperationalError as SAOperationalError


class RetryBatch(RuntimeError):
    """The batch lost a race it can detect (an insert found a row it did not see):
    roll back and run it again, re-reading what the other writer committed."""


# Unique keys whose insert is the arbiter between concurrent writers: a violation means
# another writer recorded the row after the batch looked (the gate's orders, whose
# accounts may differ, so no lock was shared). ledger/pg.py raises it as RetryBatch.
ARBITER_KEYS = frozenset({"orders_pkey"})


# SQLSTATE classes that a record's values can cause
_RECORD_CLASSES = {"21", "22", "23", "27", "44", "54", "P0"}
# reason labels of the world's classes (metric label values: keep the set small)
_WORLD_REASONS = {
    "08": "unreachable", "57": "unreachable", "25": "read_only", "28": "permission",
    "42": "schema", "3D": "schema", "3F": "schema", "0A": "schema", "26": "schema",
    "40": "conflict", "55": "conflict", "53": "resources", "58": "io", "XX": "internal",
}


def _sqlstate(exc: BaseException) -> str | None:
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    return getattr(orig, "sqlstate", None)


def world_fault(exc: BaseException) -> str | None:
    """The reason label if exc is a fault of the world, None if a record may have caused it."""
    if isinstance(exc, RetryBatch):
        return "conflict"
    state = _sqlstate(exc)
    if state is not None:
        if state == "42501":
            return "permission"
        klass = state[:2]
        if klass in _RECORD_CLASSES:
            return None
        return _WORLD_REASONS.get(klass, "database")
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return "unreachable"
    if isinstance(exc, (SAOperationalError, SAInterfaceError, DisconnectionError,
                        psycopg.OperationalError, psycopg.InterfaceError, OSError,
                        ConnectionError, asyncio.TimeoutError)):
        return "unreachable"
    return None


def describe(exc: BaseException, limit: int = 300) -> str:
    """One line about the error, without the statement or its parameters."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    text = " ".join(str(orig).split()) or type(orig).__name__
    state = _sqlstate(exc)
    prefix = f"{type(orig).__name__}" + (f" [{state}]" if state else "")
    return f"{prefix}: {text[:limit]}"
