"""Retention of the API's request bookkeeping: idempotency keys and issued order ids.

An Idempotency-Key is kept RETENTION_HOURS (a retry after that places a new order). An
issued order id is kept as long, and after that until the gate has recorded its order:
until then it is what shows the order as PENDING and lets a cancel through. Once gone, a
reused client order id is refused by the gate (DUPLICATE_ORDER_ID on `order-events`)
rather than by the API at once. Rows go in chunks, so no lock is held for long.
"""

from __future__ import annotations

import time

from sqlalchemy import Engine, text

RETENTION_HOURS = 24.0
CHUNK = 10_000

_PRUNE_KEYS = text(
    "DELETE FROM idempotency_keys WHERE ctid IN (SELECT ctid FROM idempotency_keys "
    "WHERE created_ms < :cutoff LIMIT :chunk)")
_PRUNE_ISSUED = text(
    "DELETE FROM issued_orders WHERE ctid IN (SELECT i.ctid FROM issued_orders i "
    "WHERE i.created_ms < :cutoff AND EXISTS (SELECT 1 FROM orders o "
    "WHERE o.order_id = i.order_id) LIMIT :chunk)")


def prune(engine: Engine, retention_hours: float = RETENTION_HOURS,
          now_ms: int | None = None) -> dict[str, int]:
    """Delete what is past retention; rows removed per table."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    cutoff = now - int(retention_hours * 3_600_000)
    removed = {}
    for table, statement in (("idempotency_keys", _PRUNE_KEYS),
                             ("issued_orders", _PRUNE_ISSUED)):
        removed[table] = 0
        while True:
            with engine.begin() as conn:
                count = conn.execute(statement, {"cutoff": cutoff, "chunk": CHUNK}).rowcount
            removed[table] += count
            if count < CHUNK:
                break
    return removed
