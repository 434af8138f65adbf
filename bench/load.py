"""Open-loop load on the whole pipeline: order produced -> accepted -> traded -> settled.

    python -m bench.load --rate 2000 --seconds 30 --accounts 1000 --symbols 50 [--workers 1]
    python -m bench.load --rate 100 --seconds 60 --repeat 5   # min / median / worst of 5
    python -m bench.load --rate 2000 --seconds 30 --profile py-spy    # + a worker profile

Starts the platform's services on the default settings when needed (like `matchstream
up`: var/, ports 39092/35432), then a namespace of its own (MATCHSTREAM_NAMESPACE=
bench-<random>: its own topics, Faust app id and a fresh database), migrates, funds the
accounts and symbols in bulk (adjustment rows, so `matchstream reconcile` still holds),
starts N `python -m cli.main worker` processes and waits until each says it is ready.

The schedule is generated before the clock starts: request i is planned at
t0 + i / rate (uniform, open loop). The sender produces every request whose planned
time has come; when it falls behind it does not slow down, it records how late each
request went out. Symbols are drawn with Zipf-like popularity (weight 1 / rank^s),
accounts uniformly. Mix: ~60% LIMIT GTC (1 in 4 crossing the reference price by 1-5
ticks, the rest resting 0-20 ticks behind it), ~15% LIMIT IOC crossing, ~15% MARKET,
~10% cancels of the account's oldest GTC order. Prices stay within 0.5% of each
symbol's reference price, so the circuit breaker never trips.

Measured, all on one clock (this machine's), from the request's *planned* send time:
- accepted: the order-events ACCEPTED record's broker timestamp (CreateTime, set by the
  worker's producer when it sends);
- first trade: the broker timestamp of the first trade in which the order is the
  aggressor (orders that trade on arrival);
- settled: trades.settled_ms in PostgreSQL (clock_timestamp() when the settlement
  transaction inserted the row; it commits a few ms later) of every trade, against
  the planned time of its aggressor order.
- by hop, for the same orders (those that traded on arrival): bench/hops.py.
Before sending, the CPU at rest of each stage, the broker and PostgreSQL (--rest s);
while sending, the CPU of each (/proc). The sender is a latency-sensitive client
(linger.ms 0, --client-linger-ms).
Latencies leave out the requests planned in the first --warmup seconds (default 5): the
stages' first fetches, connections and symbol reads, which an exchange running all day
pays once. Throughput counts what happened inside the sending window; lag is the app's
consumer group (committed offsets, AdminClient) against the high watermarks, once a second.
Prints a progress line per second, a table and one JSON line; saves a PNG under
var/bench/. With --repeat N, N runs (each on a fresh namespace and worker), then each
figure's minimum, median and worst (bench/summary.py). Workers are stopped at the end and on Ctrl-C; the namespace's topics and
database are deleted unless --keep.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

import msgspec
import psycopg
from confluent_kafka import (
    TIMESTAMP_LOG_APPEND_TIME,
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    OffsetSpec,
)
from prometheus_client.parser import text_string_to_metric_families

from bench import rest
from bench.hops import Stamps, breakdown, print_breakdown
from bench.reconciled import reconciled
from bench.summary import print_summary, summarise
from infra import postgres, services, topics
from infra.kafka_client import producer_config
from infra.settings import REPO_ROOT, Settings, load
from ledger.migrate import upgrade
from schemas.codec import encode
from schemas.records import CancelRequest, NewOrderRequest
from streams.matcher_records import APPLIED_HEADER
from streams.runtime.readiness import READY_LINE
from streams.runtime.stages import consumer_groups

CASH_EACH = 1_000_000_000  # $10M per account, cents
SHARES_EACH = 100_000  # of every symbol, per account
SHARES_OUTSTANDING = 1_000_000_000  # 5% position limit = 50M shares: never binding
READY_TIMEOUT_S = 120.0
REST_SETTLE_S = 3.0  # after the ready line, before the CPU at rest is measured
LAGGED_TOPICS = ("order-requests", "orders", "matcher-results")
PERCENTILES = (("p50", 0.50), ("p90", 0.90), ("p99", 0.99), ("p99.9", 0.999))


class _Event(msgspec.Struct):  # the fields of an order-events record this bench reads
    order_id: str
    status: str
    ts: int = 0
    reason: str | None = None


class _Trade(msgspec.Struct):
    trade_id: str
    buy_order_id: str
    sell_order_id: str
    aggressor: str


_decode_event = msgspec.json.Decoder(_Event).decode
_decode_trade = msgspec.json.Decoder(_Trade).decode


def _pg(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


# --------------------------------------------------------------------------- set-up

def _setup(args) -> tuple[Settings, str]:
    base = load()
    services.up(base, say=lambda line: print(f"  {line}", flush=True))
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    url = (postgres.create_database(base, "db_" + namespace.replace("-", "_"))
           if base.manages_postgres else base.database_url)
    settings = dataclasses.replace(base, namespace=namespace, external_database_url=url)
    topics.ensure_topics(settings, say=lambda *_: None)
    _stamp_appends(settings)
    upgrade(url)
    return settings, url


def _stamp_appends(settings: Settings) -> None:
    """This namespace's requests carry the broker's append time (LogAppendTime), which
    the sender's delivery reports return: the first hop of the breakdown."""
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    resource = ConfigResource("topic", settings.topic("order-requests"), incremental_configs=[
        ConfigEntry("message.timestamp.type", "LogAppendTime",
                    incremental_operation=AlterConfigOpType.SET)])
    for future in admin.incremental_alter_configs([resource]).values():
        future.result(timeout=30)


def _symbols(n: int) -> list[tuple[str, int]]:
    # reference prices $20..$200, so reservations and trade values vary a little
    return [(f"S{k:02d}", 2_000 + (k * 3_677) % 18_000) for k in range(n)]


def _accounts(n: int) -> list[str]:
    return [f"a{k:05d}" for k in range(n)]


def _seed(url: str, accounts: list[str], symbols: list[tuple[str, int]]) -> None:
    """Bulk funding with COPY; every balance has its adjustment row (conservation)."""
    with psycopg.connect(_pg(url)) as conn:
        with conn.cursor() as cur:
            with cur.copy("COPY symbols (symbol, name, shares_outstanding, reference_price, "
                          "tick_size) FROM STDIN") as copy:
                for sym, ref in symbols:
                    copy.write_row((sym, f"bench {sym}", SHARES_OUTSTANDING, ref, 1))
            with cur.copy("COPY accounts (account_id, name, cash) FROM STDIN") as copy:
                for acc in accounts:
                    copy.write_row((acc, "bench", CASH_EACH))
            with cur.copy("COPY holdings (account_id, symbol, quantity) FROM STDIN") as copy:
                for acc in accounts:
                    for sym, _ in symbols:
                        copy.write_row((acc, sym, SHARES_EACH))
            with cur.copy("COPY adjustments (account_id, asset, amount, reference, note) "
                          "FROM STDIN") as copy:
                for acc in accounts:
                    copy.write_row((acc, "CASH", CASH_EACH, f"bench:{acc}:CASH", "bench seed"))
                    for sym, _ in symbols:
                        copy.write_row((acc, sym, SHARES_EACH, f"bench:{acc}:{sym}",
                                        "bench seed"))
        conn.commit()
        # planner statistics, as a running exchange has them: without, the gate's and
        # settlement's key joins on the freshly copied tables fall back to full scans
        conn.execute("ANALYZE")


# --------------------------------------------------------------------------- workload

@dataclasses.dataclass
class Schedule:
    records: list[tuple[bytes, bytes]]  # (key, value) in planned order
    planned_ms: list[float]  # planned send time of request i, ms since epoch
    new_index: dict[str, int]  # order id -> request index (new orders only)
    t0: float  # epoch seconds of request 0
    rate: float
    mix: Counter


def _schedule(args, accounts, symbols, t0: float) -> Schedule:
    rng = random.Random(args.seed)
    n = int(args.rate * args.seconds)
    weights = [1.0 / (rank + 1) ** args.zipf for rank in range(len(symbols))]
    sym_draw = rng.choices(range(len(symbols)), weights=weights, k=n)
    open_gtc: dict[str, list[str]] = {a: [] for a in accounts}
    records, planned, new_index, mix = [], [], {}, Counter()
    for i in range(n):
        planned_s = t0 + i / args.rate
        ts = int(planned_s * 1000)
        account = accounts[rng.randrange(len(accounts))]
        roll = rng.random()
        if roll < 0.10 and open_gtc[account]:
            target = open_gtc[account].pop(0)
            value = encode(CancelRequest(order_id=target, account=account, ts=ts))
            mix["CANCEL"] += 1
        else:
            sym, ref = symbols[sym_draw[i]]
            side = "BUY" if rng.random() < 0.5 else "SELL"
            sign = 1 if side == "BUY" else -1
            quantity = rng.randint(1, 100)
            order_id = f"{args.tag}{i}"
            if roll < 0.25:
                order_type, tif, price = "MARKET", "IOC", None
                quantity = rng.randint(1, 30)
            elif roll < 0.40:
                order_type, tif = "LIMIT", "IOC"
                price = ref + sign * rng.randint(1, 5)
            else:
                order_type, tif = "LIMIT", "GTC"
                if rng.random() < 0.25:
                    price = ref + sign * rng.randint(1, 5)
                else:
                    price = ref - sign * rng.randint(0, 20)
                open_gtc[account].append(order_id)
            value = encode(NewOrderRequest(
                order_id=order_id, account=account, symbol=sym, side=side, quantity=quantity,
                order_type=order_type, tif=tif, price=price, ts=ts))
            new_index[order_id] = i
            mix[f"{order_type} {tif}"] += 1
        records.append((account.encode(), value))
        planned.append(planned_s * 1000.0)
    return Schedule(records, planned, new_index, t0, args.rate, mix)


class Sender(threading.Thread):
    """Produces each request at its planned time; never waits for the pipeline."""

    def __init__(self, settings: Settings, schedule: Schedule, stop: threading.Event,
                 stamps: Stamps, linger_ms: float) -> None:
        super().__init__(name="sender", daemon=True)
        self.producer = Producer(producer_config(settings, **{
            "linger.ms": linger_ms, "queue.buffering.max.messages": 1_000_000,
            "queue.buffering.max.kbytes": 1_048_576}))
        self.topic = settings.topic("order-requests")
        self.schedule = schedule
        self.stop_event = stop
        self.late_ms = [0.0] * len(schedule.records)  # actual - planned produce time
        self.produced_ms = stamps["produce"]
        self.appended_ms = stamps["append"]  # the broker's, from the delivery report
        self.sent = 0
        self.errors = 0
        self.finished = threading.Event()

    def _reporter(self, i: int):
        def delivered(err, msg) -> None:
            if err is not None:
                self.errors += 1
                return
            kind, ts = msg.timestamp()
            if kind == TIMESTAMP_LOG_APPEND_TIME:
                self.appended_ms[i] = ts
        return delivered

    def run(self) -> None:
        records, planned, n = self.schedule.records, self.schedule.planned_ms, len(
            self.schedule.records)
        produce, topic, now = self.producer.produce, self.topic, time.time
        i = 0
        try:
            while i < n and not self.stop_event.is_set():
                t = now() * 1000.0
                if planned[i] > t:
                    time.sleep(min(0.05, (planned[i] - t) / 1000.0))
                    continue
                while i < n and planned[i] <= t:
                    key, value = records[i]
                    while True:
                        try:
                            produce(topic, key=key, value=value,
                                    on_delivery=self._reporter(i))
                            break
                        except BufferError:
                            self.producer.poll(0.005)
                    produced = now() * 1000.0
                    self.produced_ms[i] = produced
                    self.late_ms[i] = produced - planned[i]
                    i += 1
                    self.sent = i
                self.producer.poll(0)
            self.producer.flush(30)
        finally:
            self.finished.set()


# --------------------------------------------------------------------------- workers

def _env(settings: Settings) -> dict[str, str]:
    return dict(os.environ, KAFKA_BOOTSTRAP=settings.kafka_bootstrap,
                DATABASE_URL=settings.database_url, MATCHSTREAM_NAMESPACE=settings.namespace,
                PYTHONUNBUFFERED="1")


def _start_workers(settings: Settings, count: int) -> list[subprocess.Popen]:
    log_dir = settings.home / "log" / "bench"
    log_dir.mkdir(parents=True, exist_ok=True)
    procs = []
    for index in range(count):
        log = log_dir / f"{settings.namespace}-worker{index}.log"
        port = _free_port()
        with open(log, "ab") as out:  # the child keeps its own copy of the descriptor
            proc = subprocess.Popen([sys.executable, "-m", "cli.main", "worker",
                                     "--metrics-port", str(port)],
                                    cwd=REPO_ROOT, env=_env(settings), stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        proc.log_path = log  # type: ignore[attr-defined]
        proc.metrics_port = port  # type: ignore[attr-defined]
        procs.append(proc)
    return procs


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _checkpoints(procs: list[subprocess.Popen]) -> dict[str, dict]:
    """Per stage and checkpoint step (streams/runtime/checkpoint.py), from the workers'
    metrics: how many, mean ms and the bucket bound below which 99% fell."""
    buckets: dict[tuple[str, str], list] = {}
    totals: dict[tuple[str, str], list] = {}
    for p in procs:
        url = f"http://127.0.0.1:{p.metrics_port}/metrics"  # type: ignore[attr-defined]
        try:
            text = urllib.request.urlopen(url, timeout=5).read().decode()
        except OSError:
            continue
        for family in text_string_to_metric_families(text):
            if family.name != "matchstream_checkpoint_seconds":
                continue
            for sample in family.samples:
                key = (sample.labels["stage"], sample.labels["step"])
                if sample.name.endswith("_bucket"):
                    buckets.setdefault(key, []).append((float(sample.labels["le"]),
                                                        sample.value))
                elif sample.name.endswith(("_count", "_sum")):
                    totals.setdefault(key, [0.0, 0.0])[sample.name.endswith("_sum")] += \
                        sample.value
    out: dict[str, dict] = {}
    for (stage, step), (count, total) in sorted(totals.items()):
        if not count:
            continue
        cumulative: dict[float, float] = {}
        for le, value in buckets.get((stage, step), []):
            cumulative[le] = cumulative.get(le, 0.0) + value
        p99 = min((le for le, value in cumulative.items() if value >= 0.99 * count),
                  default=float("inf"))
        out.setdefault(stage, {})[step] = {"count": int(count),
                                           "mean_ms": round(total / count * 1000, 2),
                                           "p99_below_ms": p99 * 1000}
    return out


def _wait_ready(procs: list[subprocess.Popen]) -> float:
    started = time.monotonic()
    while time.monotonic() - started < READY_TIMEOUT_S:
        logs = [p.log_path.read_bytes() for p in procs]  # type: ignore[attr-defined]
        for p, text in zip(procs, logs):
            if p.poll() is not None or b"Error in recovery" in text:
                raise SystemExit(f"worker {p.pid} failed to start; see {p.log_path}")
        # with several workers the last to join triggers a rebalance: every one must
        # have logged Ready after all of them started
        if all(READY_LINE.encode() in text for text in logs):
            return time.monotonic() - started
        time.sleep(0.25)
    raise SystemExit(f"workers not ready after {READY_TIMEOUT_S:.0f} s; logs: "
                     + ", ".join(str(p.log_path) for p in procs))


def _stop_workers(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + 20
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait(timeout=10)


def _cleanup(settings: Settings, url: str) -> None:
    topics.delete_namespace_topics(settings, say=lambda line: print(f"bench: {line}",
                                                                    flush=True))
    base = load()
    if base.manages_postgres:  # the fresh database made in _setup
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(postgres._admin_url(base), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --------------------------------------------------------------------------- measuring

class Monitor:
    """Tap on order-events and trades (broker timestamps), consumer lag, settled count."""

    def __init__(self, settings: Settings, url: str, schedule: Schedule,
                 stamps: Stamps) -> None:
        self.settings = settings
        self.schedule = schedule
        self.stamps = stamps
        self.checkpoints: dict = {}  # stage -> checkpoint step -> figures, at the end
        self.admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
        self.consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap,
                                  "group.id": f"bench-tap-{uuid.uuid4().hex}",
                                  "enable.auto.commit": False,
                                  # it reads broker timestamps, so it may fetch rarely:
                                  # a fetch per arrival cost the shared broker ~400
                                  # requests/s at 1,000 orders/s
                                  "fetch.min.bytes": 1_000_000, "fetch.wait.max.ms": 200})
        self.events_topic = settings.topic("order-events")
        self.trades_topic = settings.topic("trades")
        parts = []
        for topic in (self.events_topic, self.trades_topic):
            meta = self.consumer.list_topics(topic, timeout=10).topics[topic]
            parts += [TopicPartition(topic, p, 0) for p in meta.partitions]
        self.consumer.assign(parts)
        self.lag_parts = []
        for name in LAGGED_TOPICS:
            topic = settings.topic(name)
            meta = self.consumer.list_topics(topic, timeout=10).topics[topic]
            self.lag_parts += [TopicPartition(topic, p) for p in meta.partitions]
        self.db = psycopg.connect(_pg(url), autocommit=True)
        n = len(schedule.records)
        self.accepted_ms = stamps["gate_send"]  # ACCEPTED's record timestamp (0: not seen)
        self.gate_start_ms = stamps["gate_start"]  # its `ts`: the gate's clock
        self.first_trade_ms = stamps["trade_sent"]
        self.applied_ms = stamps["applied"]  # the first trade's batch, in the matcher
        self.first_trade_id: dict[str, int] = {}  # trade id -> its aggressor's request
        self.accepted = 0
        self.rejected: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self.trades = 0
        self.trade_ts: list[int] = []  # broker timestamps of every trade
        self.timeline: list[dict] = []  # one row a second
        self.caught_up_s: float | None = None  # after the last send
        self.rest_cpu: dict | None = None

    def poll(self, timeout: float) -> None:
        index = self.schedule.new_index
        for msg in self.consumer.consume(num_messages=2000, timeout=timeout):
            if msg.error() is not None:
                continue
            ts = msg.timestamp()[1]
            if msg.topic() == self.trades_topic:
                trade = _decode_trade(msg.value())
                self.trades += 1
                self.trade_ts.append(ts)
                i = index.get(trade.buy_order_id if trade.aggressor == "BUY"
                              else trade.sell_order_id)
                if i is not None and not self.first_trade_ms[i]:
                    self.first_trade_ms[i] = ts
                    self.first_trade_id[trade.trade_id] = i
                    for name, value in msg.headers() or ():
                        if name == APPLIED_HEADER:  # µs
                            self.applied_ms[i] = int(value) / 1000.0
            else:
                event = _decode_event(msg.value())
                self.statuses[event.status] += 1
                if event.status == "ACCEPTED":
                    i = index.get(event.order_id)
                    if i is not None and not self.accepted_ms[i]:
                        self.accepted_ms[i] = ts
                        self.gate_start_ms[i] = event.ts
                        self.accepted += 1
                elif event.status in ("REJECTED", "CANCEL_REJECTED"):
                    self.rejected[f"{event.status}:{event.reason}"] += 1

    def lag(self) -> dict[str, int]:
        """Per topic: high watermark minus the committed offset of the stage consuming it
        (for a topic two stages consume, the one further behind)."""
        try:
            ends = self.admin.list_offsets({tp: OffsetSpec.latest() for tp in self.lag_parts},
                                           request_timeout=5)
            high = {(tp.topic, tp.partition): f.result().offset for tp, f in ends.items()}
            out: dict[str, int] = {}
            for group, topics in consumer_groups(self.settings).items():
                parts = [tp for tp in self.lag_parts if tp.topic in topics]
                if not parts:
                    continue
                found = self.admin.list_consumer_group_offsets(
                    [ConsumerGroupTopicPartitions(group, parts)])
                per_topic: dict[str, int] = {}
                for tp in found[group].result(timeout=5).topic_partitions:
                    name = tp.topic[len(self.settings.namespace) + 1:]
                    per_topic[name] = (per_topic.get(name, 0)
                                       + high[(tp.topic, tp.partition)] - max(tp.offset, 0))
                for name, lag in per_topic.items():
                    out[name] = max(out.get(name, 0), lag)
            return out
        except KafkaException:  # e.g. a group has not committed yet: no sample this second
            return {}

    def settled(self) -> int:
        return self.db.execute("SELECT count(*) FROM trades").fetchone()[0]

    def sample(self, sender: Sender) -> dict:
        row = {"t": time.time() - self.schedule.t0, "sent": sender.sent,
               "accepted": self.accepted, "trades": self.trades, "settled": self.settled(),
               "lag": self.lag()}
        self.timeline.append(row)
        return row

    def settled_rows(self) -> list[tuple]:
        """(buy order, sell order, aggressor side, settled_ms) of every settled trade; the
        first trade of each order gets its settled stamp."""
        rows = self.db.execute(
            "SELECT buy_order_id, sell_order_id, aggressor, settled_ms, trade_id "
            "FROM trades").fetchall()
        settled = self.stamps["settled"]
        for *_, settled_ms, trade_id in rows:
            i = self.first_trade_id.get(trade_id)
            if i is not None:
                settled[i] = settled_ms
        return [row[:4] for row in rows]

    def close(self) -> None:
        self.consumer.close()
        self.db.close()


def _percentiles(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    out = {"n": len(ordered)}
    for name, q in PERCENTILES:
        out[name] = round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)
    out["max"] = round(ordered[-1], 1)
    return out


def _progress_line(row: dict, rate: float) -> str:
    lag = row["lag"]
    short = {"order-requests": "requests", "matcher-results": "results"}
    lag_text = " ".join(f"{short.get(k, k)}={v}" for k, v in lag.items()) or "n/a"
    return (f"  t={row['t']:5.1f}s sent {row['sent']:>7} ({rate:g}/s)  accepted "
            f"{row['accepted']:>7}  trades {row['trades']:>7}  settled {row['settled']:>7}  "
            f"lag {lag_text}")


# --------------------------------------------------------------------------- main run

def run(args) -> dict:
    out_dir = REPO_ROOT / "var" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    print(f"bench.load: {args.rate:g} orders/s for {args.seconds:g} s, {args.accounts} "
          f"accounts, {args.symbols} symbols (Zipf s={args.zipf:g}), {args.workers} "
          f"worker(s)", flush=True)
    settings, url = _setup(args)
    label = args.label or f"rate{args.rate:g}-w{args.workers}"
    print(f"bench.load: namespace {settings.namespace}, database {url.rsplit('/', 1)[1]}",
          flush=True)
    accounts, symbols = _accounts(args.accounts), _symbols(args.symbols)
    started = time.monotonic()
    _seed(url, accounts, symbols)
    print(f"bench.load: funded {len(accounts)} accounts x {len(symbols)} symbols in "
          f"{time.monotonic() - started:.1f} s", flush=True)
    args.tag = uuid.uuid4().hex[:6] + "-"
    stop = threading.Event()
    workers: list[subprocess.Popen] = []
    profiler = None
    monitor = None
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        workers = _start_workers(settings, args.workers)
        ready_s = _wait_ready(workers)
        print(f"bench.load: {len(workers)} worker(s) ready after {ready_s:.1f} s "
              f"(pids {', '.join(str(w.pid) for w in workers)})", flush=True)
        pids = [w.pid for w in workers]
        rest_cpu = None
        if args.rest > 0:
            time.sleep(REST_SETTLE_S)  # the stages' first checkpoints and timers
            rest_cpu = rest.at_rest(pids, settings, args.rest)
            print(f"bench.load: CPU at rest over {args.rest:g} s (% of a core): "
                  + ", ".join(f"{k} {v:g}" for k, v in rest_cpu.items()), flush=True)
        # generated before the clock starts (~15 us a request); t0 leaves it room
        n = int(args.rate * args.seconds)
        schedule = _schedule(args, accounts, symbols, t0=time.time() + 1.0 + n * 25e-6)
        stamps = Stamps(n)
        stamps.by_name["planned"] = schedule.planned_ms
        monitor = Monitor(settings, url, schedule, stamps)
        monitor.rest_cpu = rest_cpu
        cpu_start, cpu_started = rest.totals(pids, settings), time.monotonic()
        sender = Sender(settings, schedule, stop, stamps, args.client_linger_ms)
        sender.start()
        if args.profile:
            profiler = _start_profile(args, workers[0].pid, out_dir, label)
        t0 = schedule.t0
        next_tick = t0 + 1.0
        end_send = t0 + args.seconds
        deadline = None
        while True:
            monitor.poll(0.05)
            now = time.time()
            if now >= next_tick:
                row = monitor.sample(sender)
                print(_progress_line(row, args.rate), flush=True)
                next_tick += 1.0
                if sender.finished.is_set() and deadline is None:
                    deadline = max(now, end_send) + args.drain
                if deadline is not None:
                    lag = row["lag"]
                    caught_up = bool(lag) and all(v == 0 for v in lag.values())
                    if caught_up and row["settled"] >= monitor.trades:
                        monitor.caught_up_s = round(max(0.0, now - end_send), 1)
                        break
                    if now >= deadline:
                        break
        used = rest.spent(cpu_start, rest.totals(pids, settings))
        cpu_s = time.monotonic() - cpu_started
        monitor.broker_cpu_s = used.pop("broker", None)
        monitor.postgres_cpu_s = used.pop("postgres", None)
        monitor.cpu_stages = {k: round(v, 1) for k, v in used.items()}
        monitor.cpu_s = sum(used.values())
        monitor.cpu_window_s = cpu_s
        monitor.wall_s = time.time() - t0
        monitor.checkpoints = _checkpoints(workers)
        result = _report(args, settings, schedule, sender, monitor, out_dir, label)
        result["reconciled"] = _catch_up_and_reconcile(args, settings, url, sender, monitor)
    except KeyboardInterrupt:
        print("\nbench.load: interrupted; stopping workers", flush=True)
        result = {}
        if profiler is not None and profiler.poll() is None:
            profiler.terminate()
    finally:
        stop.set()
        signal.signal(signal.SIGTERM, previous)
        if profiler is not None:
            _finish_profile(profiler)
        _stop_workers(workers)
        if monitor is not None:
            monitor.close()
        if not args.keep:
            try:
                _cleanup(settings, url)
            except (KafkaException, psycopg.Error) as exc:
                print(f"bench.load: cleanup failed: {exc}", flush=True)
    return result


def _catch_up_and_reconcile(args, settings: Settings, url: str, sender: Sender,
                            monitor: Monitor) -> bool | None:
    """Once every stage has caught up (up to --catch-up s more), reconcile the ledger."""
    deadline = time.time() + args.catch_up
    said = time.time()
    row = monitor.sample(sender)
    while not (row["lag"] and all(v == 0 for v in row["lag"].values())
               and row["settled"] >= monitor.trades):
        if time.time() >= deadline:
            print(f"bench.load: reconcile: skipped, not caught up after {args.catch_up:g} s "
                  f"more (lag {row['lag']})", flush=True)
            return None
        monitor.poll(1.0)
        row = monitor.sample(sender)
        if time.time() - said >= 5:
            said = time.time()
            print(f"bench.load: catching up before reconcile: lag {row['lag']}, settled "
                  f"{row['settled']} of {monitor.trades} trades", flush=True)
    ok = reconciled(settings, url)
    print(f"bench.load: reconcile: {'ok' if ok else 'FAILED'}", flush=True)
    return ok


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _start_profile(args, pid: int, out_dir: Path, label: str):
    path = out_dir / f"{label}-pyspy.txt"
    cmd = [str(Path(sys.executable).with_name("py-spy")), "record", "-p", str(pid),
           "-d", str(int(args.profile_seconds)), "-r", "100", "--nonblocking", "--subprocesses",
           "--format", "raw", "-o", str(path)]  # on-CPU samples only
    proc = subprocess.Popen(["sh", "-c", f"sleep {args.profile_delay}; exec " + " ".join(cmd)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    print(f"bench.load: py-spy records worker {pid} for {args.profile_seconds} s after "
          f"{args.profile_delay} s -> {path}", flush=True)
    return proc


def _finish_profile(proc: subprocess.Popen) -> None:
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.terminate()
        proc.wait(timeout=10)


def _report(args, settings, schedule: Schedule, sender: Sender, monitor: Monitor,
            out_dir: Path, label: str) -> dict:
    planned = schedule.planned_ms
    t0_ms = schedule.t0 * 1000.0
    end_ms = t0_ms + args.seconds * 1000.0
    # latencies of the requests planned after the warm-up; throughput over the whole window
    steady_ms = t0_ms + args.warmup * 1000.0
    accepted_lat, trade_lat = [], []
    for i, acc in enumerate(monitor.accepted_ms):
        if planned[i] < steady_ms:
            continue
        if acc:
            accepted_lat.append(acc - planned[i])
        ft = monitor.first_trade_ms[i]
        if ft:
            trade_lat.append(ft - planned[i])
    rows = monitor.settled_rows()
    settled_lat, settled_at = [], []
    for buy, sell, aggressor, settled_ms in rows:
        i = schedule.new_index.get(buy if aggressor == "BUY" else sell)
        if i is not None:
            settled_at.append(settled_ms)
            if planned[i] >= steady_ms:
                settled_lat.append(settled_ms - planned[i])
    sent_n = sender.sent

    def in_window(stamps) -> int:
        return sum(1 for s in stamps if t0_ms <= s < end_ms)

    new_orders = len(schedule.new_index)
    throughput = {
        "offered_per_s": args.rate,
        "accepted_per_s": round(in_window([a for a in monitor.accepted_ms if a])
                                / args.seconds, 1),
        "trades_per_s": round(in_window(monitor.trade_ts) / args.seconds, 1),
        "settled_per_s": round(in_window(settled_at) / args.seconds, 1),
    }
    late = sender.late_ms[:sent_n]
    steady = [i for i in range(len(planned)) if planned[i] >= steady_ms]
    hops = breakdown(monitor.stamps, steady, _percentiles)
    latency = {"send_lateness_ms": _percentiles(late),
               "accepted_ms": _percentiles(accepted_lat),
               "first_trade_ms": _percentiles(trade_lat),
               "settled_ms": _percentiles(settled_lat)}
    max_lag = {}
    for row in monitor.timeline:
        for k, v in row["lag"].items():
            max_lag[k] = max(max_lag.get(k, 0), v)
    result = {
        "bench": "load", "label": label, "rate": args.rate, "seconds": args.seconds,
        "warmup_s": args.warmup,
        "workers": args.workers, "accounts": args.accounts, "symbols": args.symbols,
        "requests": len(schedule.records), "new_orders": new_orders, "sent": sent_n,
        "delivery_errors": sender.errors, "accepted": monitor.accepted,
        "trades": monitor.trades, "settled": len(rows),
        "rejected": dict(monitor.rejected.most_common(6)),
        "throughput": throughput, "latency": latency, "max_lag": max_lag,
        "final_lag": monitor.timeline[-1]["lag"] if monitor.timeline else {},
        "worker_cpu_s": round(monitor.cpu_s, 1), "worker_cpu_s_by_stage": monitor.cpu_stages,
        "wall_s": round(monitor.wall_s, 1), "cpu_window_s": round(monitor.cpu_window_s, 1),
        "worker_cpu_ms_per_accepted": (round(monitor.cpu_s * 1000 / monitor.accepted, 3)
                                       if monitor.accepted else None),
        "broker_cpu_s": (None if monitor.broker_cpu_s is None
                         else round(monitor.broker_cpu_s, 1)),
        "broker_cpu_pct": _pct(monitor.broker_cpu_s, monitor.cpu_window_s),
        "postgres_cpu_pct": _pct(monitor.postgres_cpu_s, monitor.cpu_window_s),
        "caught_up_s": monitor.caught_up_s,
        "rest_cpu_pct": monitor.rest_cpu or {},
        "hops": hops,
        "client_linger_ms": args.client_linger_ms,
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "checkpoints": monitor.checkpoints,
    }
    _print_table(result)
    print_breakdown(hops)
    result["plot"] = str(_plot(monitor, schedule, sender, rows, out_dir, label))
    print(json.dumps(result, separators=(",", ":")), flush=True)
    return result


def _pct(seconds: float | None, window_s: float) -> float | None:
    return None if seconds is None or not window_s else round(seconds / window_s * 100, 1)


def _print_table(r: dict) -> None:
    t = r["throughput"]
    print(f"\n== {r['label']}: offered {r['rate']:g}/s for {r['seconds']:g} s; sent "
          f"{r['sent']}, accepted {r['accepted']} of {r['new_orders']} new orders, "
          f"trades {r['trades']}, settled {r['settled']}")
    print(f"throughput in the sending window: accepted {t['accepted_per_s']:g}/s, trades "
          f"{t['trades_per_s']:g}/s, settled {t['settled_per_s']:g}/s")
    print(f"worker CPU {r['worker_cpu_s']:g} s in {r['cpu_window_s']:g} s "
          f"({r['worker_cpu_ms_per_accepted']} ms per accepted order); by stage "
          f"{r['worker_cpu_s_by_stage']}; Kafka broker {r['broker_cpu_s']} s "
          f"({r['broker_cpu_pct']}% of a core), PostgreSQL {r['postgres_cpu_pct']}%; every "
          f"lag 0 {r['caught_up_s']} s after the last send")
    print(f"rejected: {r['rejected'] or 'none'}; max lag {r['max_lag']}; final lag "
          f"{r['final_lag']}")
    print(f"latency of the requests planned from {r['warmup_s']:g} s on (the warm-up left out):")
    head = "| from planned send to | n | p50 | p90 | p99 | p99.9 | max |"
    print(head + "\n|---|---|---|---|---|---|---|")
    names = {"send_lateness_ms": "produce() (sender lateness)",
             "accepted_ms": "ACCEPTED (order-events)", "first_trade_ms": "first trade",
             "settled_ms": "settled in PostgreSQL"}
    for key, name in names.items():
        p = r["latency"][key]
        if not p.get("n"):
            print(f"| {name} | 0 | | | | | |")
            continue
        print(f"| {name} | {p['n']} | " + " | ".join(
            f"{p[k]:,.1f}" for k in ("p50", "p90", "p99", "p99.9", "max")) + " | (ms)")
    for stage, steps in r["checkpoints"].items():
        print(f"checkpoints of {stage}: " + "; ".join(
            f"{step} {v['count']}x, mean {v['mean_ms']:g} ms, p99 < {v['p99_below_ms']:g} ms"
            for step, v in steps.items()))


def _plot(monitor: Monitor, schedule: Schedule, sender: Sender, rows, out_dir: Path,
          label: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t0 = schedule.t0 * 1000.0
    planned = schedule.planned_ms
    fig, (ax1, ax2, ax3) = plt.subplots(3, 1, figsize=(11, 10), sharex=True)
    xs_a = [(planned[i] - t0) / 1000 for i, a in enumerate(monitor.accepted_ms) if a]
    ys_a = [a - planned[i] for i, a in enumerate(monitor.accepted_ms) if a]
    xs_s, ys_s = [], []
    for buy, sell, aggressor, settled_ms in rows:
        i = schedule.new_index.get(buy if aggressor == "BUY" else sell)
        if i is not None:
            xs_s.append((planned[i] - t0) / 1000)
            ys_s.append(settled_ms - planned[i])
    ax1.scatter(xs_a, ys_a, s=1, alpha=0.3, label="accepted")
    ax1.scatter(xs_s, ys_s, s=1, alpha=0.3, label="settled (per trade)")
    ax1.set_yscale("log")
    ax1.set_ylabel("latency from planned send (ms)")
    ax1.legend(loc="upper left", markerscale=8)
    ax1.set_title(f"bench.load {label}")
    tl = monitor.timeline
    ts = [r["t"] for r in tl]
    for key in ("sent", "accepted", "trades", "settled"):
        vals = [r[key] for r in tl]
        per_s = [b - a for a, b in zip([0] + vals[:-1], vals)]
        ax2.plot(ts, per_s, label=f"{key}/s")
    ax2.set_ylabel("per second")
    ax2.legend(loc="upper left")
    names = sorted({k for r in tl for k in r["lag"]})
    for name in names:
        ax3.plot(ts, [r["lag"].get(name, 0) for r in tl], label=name)
    ax3.set_ylabel("consumer lag (records)")
    ax3.set_xlabel("seconds since the first planned send")
    ax3.legend(loc="upper left")
    fig.tight_layout()
    path = out_dir / f"{label}.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.load")
    parser.add_argument("--rate", type=float, default=2000, help="orders (requests) per s")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--symbols", type=int, default=50)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--zipf", type=float, default=1.0, help="symbol popularity exponent")
    parser.add_argument("--drain", type=float, default=10,
                        help="seconds to wait after the last send for the pipeline")
    parser.add_argument("--catch-up", type=float, default=300,
                        help="s to wait, after the run, for every stage to catch up before "
                             "reconciling")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--warmup", type=float, default=5,
                        help="latencies leave out the requests planned in the first S "
                        "seconds (the stages' first fetches, connections and spec reads)")
    parser.add_argument("--label", default="")
    parser.add_argument("--profile", action="store_true",
                        help="py-spy record the first worker (raw collapsed stacks)")
    parser.add_argument("--profile-seconds", type=float, default=20)
    parser.add_argument("--profile-delay", type=float, default=5)
    parser.add_argument("--keep", action="store_true",
                        help="keep the namespace's topics and database")
    parser.add_argument("--rest", type=float, default=10,
                        help="seconds to measure the CPU at rest before sending (0: not)")
    parser.add_argument("--client-linger-ms", type=float, default=0,
                        help="the sender's linger.ms (a latency-sensitive client's: 0)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs, each on a fresh namespace and worker; prints each "
                        "figure's minimum, median and worst")
    args = parser.parse_args(argv)
    results = []
    try:
        for attempt in range(args.repeat):
            if args.repeat > 1:
                print(f"bench.load: run {attempt + 1} of {args.repeat}", flush=True)
            result = run(args)
            if not result:
                break
            results.append(result)
    except KeyboardInterrupt:
        pass
    if args.repeat > 1 and results:
        rows = summarise(results)
        print_summary(rows, len(results))
        print(json.dumps({"bench": "load-summary", "runs": len(results),
                          "reconciled": [r.get("reconciled") for r in results],
                          "figures": rows}, separators=(",", ":")), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
