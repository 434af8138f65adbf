"""A namespaced slice of the real platform for one test: its own topics, database, workers."""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

from confluent_kafka import Consumer, Producer
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, text

from infra import postgres, topics
from infra.kafka_client import producer_config
from infra.settings import REPO_ROOT, Settings
from ledger import admin
from ledger.db import make_engine
from ledger.migrate import upgrade
from schemas.codec import encode
from streams.runtime.readiness import READY_LINE


class Platform:
    def __init__(self, base: Settings, name: str) -> None:
        self.namespace = f"{name[:20]}-{uuid.uuid4().hex[:8]}".replace("_", "-").lower()
        url = (postgres.create_database(base, "db_" + self.namespace.replace("-", "_"))
               if base.manages_postgres else base.database_url)
        self.settings = dataclasses.replace(base, namespace=self.namespace,
                                            external_database_url=url)
        topics.ensure_topics(self.settings, say=lambda *_: None)
        self.orders_partitions = topics.partition_count(self.settings, "orders")
        upgrade(url)
        self.db: Engine = make_engine(url)
        self.producer = Producer(producer_config(self.settings))
        self.workers: list[subprocess.Popen] = []
        self.log_dir = base.home / "log" / "tests"
        self.log_dir.mkdir(parents=True, exist_ok=True)

    # -- environment shared with the processes under test
    def env(self) -> dict[str, str]:
        return dict(os.environ, KAFKA_BOOTSTRAP=self.settings.kafka_bootstrap,
                    DATABASE_URL=self.settings.database_url,
                    MATCHSTREAM_NAMESPACE=self.namespace, PYTHONUNBUFFERED="1")

    def topic(self, name: str) -> str:
        return self.settings.topic(name)

    # -- workers
    def start_worker(self, *args: str) -> subprocess.Popen:
        """`matchstream worker ARGS`, with its metrics on a port of its own."""
        index = len(self.workers)
        log = self.log_dir / f"{self.namespace}-worker{index}.log"
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "worker", "--metrics-port", str(port), *args],
            cwd=REPO_ROOT, env=self.env(), stdout=open(log, "ab"), stderr=subprocess.STDOUT,
            start_new_session=True)
        proc.log_path = log  # type: ignore[attr-defined]
        proc.metrics_port = port  # type: ignore[attr-defined]
        self.workers.append(proc)
        return proc

    def worker_metric(self, proc: subprocess.Popen, name: str, **labels: str) -> float | None:
        """A sample of the worker's /metrics, or None if it has none such (or no answer)."""
        try:
            with urllib.request.urlopen(
                    f"http://127.0.0.1:{proc.metrics_port}/metrics", timeout=5) as response:
                body = response.read().decode()
        except OSError:
            return None
        for family in text_string_to_metric_families(body):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v
                                               for k, v in labels.items()):
                    return sample.value
        return None

    def wait_ready(self, proc: subprocess.Popen, timeout: float = 90) -> None:
        """Until the worker says every stage has joined its group and restored its state."""
        wait_for(lambda: READY_LINE.encode() in proc.log_path.read_bytes(), timeout,
                 "the worker to be ready", [proc.log_path])

    def kill_worker(self, proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
        """Send `sig`; a worker still running 20 s after a SIGTERM is killed outright."""
        if proc.poll() is None:
            os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)

    # -- ledger set-up
    def account(self, account_id: str, cash: int = 0, **shares: int) -> None:
        admin.create_account(self.db, account_id)
        if cash:
            admin.adjust(self.db, account_id, admin.CASH, cash)
        for symbol, quantity in shares.items():
            admin.adjust(self.db, account_id, symbol, quantity)

    def symbol(self, symbol: str, reference_price: int = 10_000,
               shares_outstanding: int = 1_000_000, tick_size: int = 1) -> None:
        admin.add_symbol(self.db, symbol, shares_outstanding, reference_price, tick_size,
                         orders_partitions=self.orders_partitions)

    # -- Kafka
    def send(self, topic: str, key: bytes | str | None, value) -> None:
        raw = value if isinstance(value, bytes) or value is None else encode(value)
        self.producer.produce(self.topic(topic), key=key, value=raw)

    def flush(self) -> None:
        assert self.producer.flush(30) == 0, "producer could not deliver every record"

    def consumer(self, *names: str) -> Consumer:
        consumer = Consumer({"bootstrap.servers": self.settings.kafka_bootstrap,
                             "group.id": f"test-{uuid.uuid4().hex}",
                             "auto.offset.reset": "earliest",
                             "isolation.level": "read_committed",
                             "enable.auto.commit": False})
        consumer.subscribe([self.topic(n) for n in names])
        return consumer

    def scalar(self, sql: str, **params):
        with self.db.connect() as conn:
            return conn.execute(text(sql), params).scalar()

    def rows(self, sql: str, **params) -> list:
        with self.db.connect() as conn:
            return list(conn.execute(text(sql), params))

    def reconcile(self):
        from ledger.reconcile import reconcile

        return reconcile(self.db, self.settings.kafka_bootstrap, self.topic("trades"))

    def assert_reconciled(self, wait: float = 30.0) -> None:
        """Every invariant holds (waiting up to `wait` s for settlement to catch up)."""
        deadline = time.monotonic() + wait
        while True:
            checks = self.reconcile()
            failed = [c for c in checks if not c.ok]
            if not failed:
                return
            if time.monotonic() > deadline:
                raise AssertionError("invariants violated:\n" + "\n".join(
                    f"{c.name}: {c.detail}" for c in failed))
            time.sleep(0.5)

    def close(self, keep_topics: bool = False) -> None:
        """Stop the workers; delete the namespace's topics unless kept (a failed test's
        stay for a post-mortem). A long run would otherwise pile up thousands of
        partitions in the broker, each holding files open."""
        for proc in self.workers:
            self.kill_worker(proc, signal.SIGTERM)
        self.producer.flush(5)
        self.db.dispose()
        if not keep_topics:
            topics.delete_namespace_topics(self.settings, say=print)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], object], timeout: float, what: str,
             logs: list[Path] | None = None, interval: float = 0.25):
    """Poll until predicate() is truthy; fail with what was awaited and the workers' logs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    tails = "\n".join(f"--- {p}\n" + "\n".join(log_tail(p)) for p in (logs or []) if p.exists())
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{tails}")


def log_tail(path: Path, lines: int = 40) -> list[str]:
    """The last `lines` of a log, a line repeated with only its time changed kept once
    (a warning every few seconds would otherwise hide what came before it)."""
    kept: list[str] = []
    seen: set[str] = set()
    for line in reversed(path.read_text(errors="replace").splitlines()):
        text = re.sub(r"\[[0-9-]+ [0-9:,]+\]|[0-9.]+ (seconds|minutes)", "", line)
        if text not in seen:
            seen.add(text)
            kept.append(line)
            if len(kept) == lines:
                break
    return kept[::-1]


def consume(consumer: Consumer, count: int, timeout: float) -> list:
    """Read `count` records (or fail): returns the confluent Message objects."""
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < count and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        assert msg.error() is None, msg.error()
        out.append(msg)
    assert len(out) >= count, f"expected {count} records, got {len(out)}"
    return out
