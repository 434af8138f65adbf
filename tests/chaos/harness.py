"""Steady mixed load on a namespaced platform, a fault injected into it, then the proof
that nothing was lost and nothing doubled.

- Load: LIMIT GTC / IOC / FOK, MARKET and cancels (tests/flow.py) over several symbols
  and accounts, produced at a steady rate from a thread, each delivery confirmed.
- Workers run under a watchdog that restarts one that exits, as a service manager
  would; deliberate kills are told apart from exits, so unexpected exits are counted.
- After the load and the drain: every request has exactly one outcome, the settled
  trades and open orders equal a fresh replay of the `orders` topic, reconcile passes,
  and the independent audit (tests/chaos/audit.py) finds no difference.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

from confluent_kafka import Producer

from infra.kafka_client import producer_config
from schemas.codec import ORDER_EVENT, DecodeError, encode
from schemas.records import CancelRequest, NewOrderRequest
from tests.chaos.audit import audit
from tests.flow import order_flow
from tests.platform import Platform, wait_for
from tests.replay import assert_settled_equals_replay, read_partitions

SYMBOLS = {"ACME": 10_000, "BOLT": 5_000, "CRUX": 2_000, "DYNA": 25_000, "EXPO": 800}
ACCOUNTS = [f"trader{i:02d}" for i in range(40)]
RATE = 250  # requests/s: a few hundred, as the issue asks
DRAIN_S = 240


@dataclass
class Figures:
    fault: str
    requests: int = 0
    orders: int = 0
    cancels: int = 0
    trades: int = 0
    worker_restarts: int = 0
    unexpected_exits: list = field(default_factory=list)
    blocked: dict = field(default_factory=dict)  # stage/reason -> times seen blocked
    lost: int = 0
    doubled: int = 0


class Chaos:
    def __init__(self, p: Platform, fault: str, seed: int, rate: int = RATE) -> None:
        self.p = p
        self.seed = seed
        self.rate = rate
        self.figures = Figures(fault)
        self.sent: list = []
        self.workers: list[subprocess.Popen] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        for symbol, price in SYMBOLS.items():
            p.symbol(symbol, reference_price=price, shares_outstanding=100_000_000)
        for account in ACCOUNTS:
            p.account(account, cash=10_000_000_000, **{s: 100_000 for s in SYMBOLS})

    # -- workers under a watchdog
    def start_worker(self, *args: str) -> subprocess.Popen:
        proc = self.p.start_worker(*args)
        with self._lock:
            self.workers.append(proc)
        return proc

    def restart(self, proc: subprocess.Popen, sig: int = signal.SIGKILL) -> subprocess.Popen:
        """Kill the worker with sig and start another like it: a deliberate restart."""
        with self._lock:
            self.workers.remove(proc)
        self.p.kill_worker(proc, sig)
        self.figures.worker_restarts += 1
        return self.start_worker(*_worker_args(proc))

    def _watch(self) -> None:
        while not self._stop.wait(0.5):
            with self._lock:
                current = list(self.workers)
            for proc in current:
                with self._lock:
                    if proc.poll() is None or proc not in self.workers:
                        continue
                    self.workers.remove(proc)
                tail = proc.log_path.read_text(errors="replace").splitlines()[-5:]
                self.figures.unexpected_exits.append((proc.returncode, tail))
                self.figures.worker_restarts += 1
                self.start_worker(*_worker_args(proc))

    def _sample_blocked(self) -> None:
        while not self._stop.wait(1.0):
            with self._lock:
                current = list(self.workers)
            for proc in current:
                for stage in ("gate", "matcher", "settlement", "candles"):
                    for reason in ("unreachable", "read_only", "broker", "conflict",
                                   "record_refused", "schema", "database"):
                        if self.p.worker_metric(proc, "matchstream_stage_blocked",
                                                stage=stage, reason=reason) == 1:
                            key = f"{stage}/{reason}"
                            self.figures.blocked[key] = self.figures.blocked.get(key, 0) + 1

    # -- load
    def _produce(self, seconds: float) -> None:
        producer = Producer(producer_config(self.p.settings))
        failed: list = []
        count = int(self.rate * seconds)
        start = time.monotonic()
        for n, (account, request) in enumerate(order_flow(
                self.seed, count, ACCOUNTS, SYMBOLS, cancel_ratio=0.12, market_ratio=0.12)):
            producer.produce(self.p.topic("order-requests"), key=account.encode(),
                             value=encode(request),
                             on_delivery=lambda err, _msg: err and failed.append(err))
            self.sent.append(request)
            producer.poll(0)
            ahead = start + n / self.rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
        assert producer.flush(300) == 0 and not failed, f"requests not delivered: {failed[:3]}"

    def run(self, seconds: float, fault, fault_at: float = 5.0) -> Figures:
        """Load for `seconds`; fault() runs in this thread `fault_at` s into the load."""
        threads = [threading.Thread(target=target, daemon=True)
                   for target in (self._watch, self._sample_blocked)]
        for thread in threads:
            thread.start()
        load = threading.Thread(target=self._produce, args=(seconds,), daemon=True)
        try:
            load.start()
            time.sleep(fault_at)
            fault()
            load.join(seconds + 300)
            assert not load.is_alive(), "the load did not finish"
            self.check()
        finally:
            self._stop.set()
            for thread in threads:
                thread.join(10)
        self._record()
        return self.figures

    # -- the proof
    def logs(self) -> list:
        return [w.log_path for w in self.p.workers]

    def check(self) -> None:
        p, f = self.p, self.figures
        new_ids = {r.order_id for r in self.sent if isinstance(r, NewOrderRequest)}
        cancelled = {r.order_id for r in self.sent if isinstance(r, CancelRequest)}
        f.requests, f.orders, f.cancels = len(self.sent), len(new_ids), len(self.sent) - len(new_ids)
        wait_for(lambda: p.scalar("SELECT count(*) FROM orders") >= len(new_ids), DRAIN_S,
                 f"{len(new_ids)} order rows from the gate", self.logs())
        recorded = [r[0] for r in p.rows("SELECT order_id FROM orders")]
        f.lost = len(new_ids - set(recorded))
        f.doubled = len(recorded) - len(set(recorded)) + len(set(recorded) - new_ids)
        assert f.lost == 0 and f.doubled == 0, f"orders lost {f.lost}, doubled {f.doubled}"

        trades = assert_settled_equals_replay(p, list(SYMBOLS), DRAIN_S, self.logs())
        f.trades = len(trades)
        assert p.scalar("SELECT count(*) FROM trades") == f.trades

        outcomes = self._gate_outcomes()
        missing = [i for i in new_ids if len(outcomes.get(i, ())) == 0]
        several = {i: o for i, o in outcomes.items() if len(o) > 1}
        assert not missing and not several, (
            f"requests without a gate outcome: {missing[:5]}; with several: "
            f"{list(several.items())[:5]}")
        still_open = [r[0] for r in p.rows(
            "SELECT order_id FROM orders WHERE status IN ('ACCEPTED', 'PARTIALLY_FILLED') "
            "AND order_id = ANY(:ids)", ids=sorted(cancelled))]
        assert not still_open, f"cancel requests lost: {still_open[:5]} are still open"
        p.assert_reconciled(wait=60)
        differences = audit(p.db)
        assert not differences, f"the independent audit disagrees: {differences}"
        assert not f.unexpected_exits, f"workers exited: {f.unexpected_exits}"

    def _gate_outcomes(self) -> dict[str, set]:
        """order id -> the distinct outcomes the gate gave its request (ACCEPTED/REJECTED)."""
        outcomes: dict[str, set] = defaultdict(set)
        records = read_partitions(self.p.settings.kafka_bootstrap, self.p.topic("order-events"))
        for partition in records.values():
            for _offset, value in partition:
                event = ORDER_EVENT.decode(value)
                if isinstance(event, DecodeError):
                    continue
                if event.seq == 0 and event.status in ("ACCEPTED", "REJECTED"):
                    outcomes[event.order_id].add((event.status, event.reason))
        return outcomes

    def _record(self) -> None:
        path = self.p.settings.home / "chaos.jsonl"
        with open(path, "a") as out:
            out.write(json.dumps(self.figures.__dict__, default=str) + "\n")


def _worker_args(proc: subprocess.Popen) -> list[str]:
    """The arguments the worker was started with, after its own --metrics-port."""
    return proc.args[proc.args.index("--metrics-port") + 2:]
