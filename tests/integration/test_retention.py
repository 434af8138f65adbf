"""Retention of idempotency keys and issued order ids (ledger/retention.py): what is past
it goes, an issued id whose order the gate has not recorded stays; `matchstream prune`
does it, and a worker does it on its own."""

from __future__ import annotations

import subprocess
import sys
import time

from sqlalchemy import text

from infra.settings import REPO_ROOT
from tests.platform import wait_for

HOUR_MS = 3_600_000


def _rows(p, now: int) -> None:
    p.symbol("ACME", reference_price=10_000)
    p.account("alice", cash=1_000_000)
    old, new = now - 25 * HOUR_MS, now - HOUR_MS
    with p.db.begin() as conn:
        for key, created in (("old-key", old), ("new-key", new)):
            conn.execute(text("INSERT INTO idempotency_keys (account_id, key, order_id, "
                              "request_hash, created_ms) VALUES ('alice', :k, :k, '', :c)"),
                         {"k": key, "c": created})
        for order_id, created, recorded in (("old-recorded", old, True),
                                            ("old-pending", old, False),
                                            ("new-recorded", new, True)):
            conn.execute(text("INSERT INTO issued_orders (order_id, account_id, created_ms) "
                              "VALUES (:o, 'alice', :c)"), {"o": order_id, "c": created})
            if recorded:
                conn.execute(text(
                    "INSERT INTO orders (order_id, account_id, symbol, side, order_type, tif, "
                    "quantity, price, status) VALUES (:o, 'alice', 'ACME', 'BUY', 'LIMIT', "
                    "'GTC', 1, 10000, 'CANCELLED')"), {"o": order_id})


def _left(p) -> tuple[list, list]:
    keys = [r[0] for r in p.rows("SELECT key FROM idempotency_keys ORDER BY key")]
    issued = [r[0] for r in p.rows("SELECT order_id FROM issued_orders ORDER BY order_id")]
    return keys, issued


def test_prune_removes_what_is_past_retention_and_keeps_pending_orders(platform):
    p = platform
    _rows(p, int(time.time() * 1000))
    out = subprocess.run([sys.executable, "-m", "cli.main", "prune"], cwd=REPO_ROOT,
                         env=p.env(), capture_output=True, text=True, check=True).stdout
    assert "removed 1 idempotency keys and 1 issued order ids older than 24 h" in out
    assert _left(p) == (["new-key"], ["new-recorded", "old-pending"])


def test_a_worker_prunes_on_its_own(platform, monkeypatch):
    p = platform
    _rows(p, int(time.time() * 1000))
    monkeypatch.setenv("MATCHSTREAM_PRUNE_EVERY_S", "1")
    worker = p.start_worker()
    wait_for(lambda: _left(p) == (["new-key"], ["new-recorded", "old-pending"]), 120,
             "the worker's prune", [worker.log_path])
