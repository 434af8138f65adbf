"""Workers killed with SIGKILL mid-flow, or stopped while another runs: nothing lost,
nothing twice. After the flow drains:
- reconcile is clean (conservation, no negative balance, reservations, fills, and every
  trade in the topic settled exactly once);
- every order request got its order row;
- the trades equal those of a fresh matcher replaying the `orders` topic (invariant 8),
  and the resting books of that replay equal the ledger's open orders.
"""

from __future__ import annotations

import random
import signal
import threading
import time

from schemas.records import NewOrderRequest
from tests.flow import order_flow
from tests.platform import Platform, wait_for
from tests.replay import assert_settled_equals_replay

SYMBOLS = {"ACME": 10_000, "BOLT": 5_000, "CRUX": 2_000}
ACCOUNTS = [f"acct{i:02d}" for i in range(16)]


def _fund(p: Platform) -> None:
    for symbol, price in SYMBOLS.items():
        p.symbol(symbol, reference_price=price, shares_outstanding=10_000_000)
    for account in ACCOUNTS:
        p.account(account, cash=1_000_000_000, **{s: 50_000 for s in SYMBOLS})


def _produce(p: Platform, seed: int, count: int, rate: float) -> tuple[threading.Thread, list]:
    """Send the flow at about `rate` requests/s from a background thread."""
    sent: list = []

    def run() -> None:
        start = time.monotonic()
        for n, (account, request) in enumerate(order_flow(seed, count, ACCOUNTS, SYMBOLS)):
            p.send("order-requests", account, request)
            sent.append(request)
            lag = start + n / rate - time.monotonic()
            if lag > 0:
                time.sleep(lag)
        p.flush()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, sent


def _assert_drained_and_consistent(p: Platform, sent: list, logs: list) -> None:
    new_ids = {r.order_id for r in sent if isinstance(r, NewOrderRequest)}
    wait_for(lambda: p.scalar("SELECT count(*) FROM orders") >= len(new_ids), 180,
             f"{len(new_ids)} order rows from the gate", logs)
    assert {r[0] for r in p.rows("SELECT order_id FROM orders")} == new_ids
    assert_settled_equals_replay(p, list(SYMBOLS), 180, logs)
    p.assert_reconciled(wait=60)


def test_sigkill_at_random_moments(platform):
    p = platform
    _fund(p)
    rng = random.Random(7)
    worker = p.start_worker()
    producer, sent = _produce(p, seed=11, count=4000, rate=100)
    logs = []
    for _ in range(4):
        p.wait_ready(worker)
        time.sleep(rng.uniform(1.0, 5.0))
        logs.append(worker.log_path)
        p.kill_worker(worker, signal.SIGKILL)
        worker = p.start_worker()
    producer.join(120)
    logs.append(worker.log_path)
    _assert_drained_and_consistent(p, sent, logs)


def test_two_workers_one_stopped_mid_run(platform):
    p = platform
    _fund(p)
    first, second = p.start_worker(), p.start_worker()
    producer, sent = _produce(p, seed=23, count=3000, rate=100)
    p.wait_ready(first)
    p.wait_ready(second)
    time.sleep(5)
    p.kill_worker(first, signal.SIGKILL)
    producer.join(120)
    _assert_drained_and_consistent(p, sent, [first.log_path, second.log_path])
