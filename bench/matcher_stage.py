"""Orders per second through the matcher stage alone: Kafka in, books, Kafka out.

    python -m bench.matcher_stage --orders 200000 --symbols 50

The brief's 100,000 orders/s "through the matcher" is a property of the matcher stage
(`matchstream worker --stage matcher`), not of the whole pipeline, so this measures
that process on its own, with its real input and outputs: Faust consuming `orders`,
the books, the confluent-kafka output of trades / order-events / book / quotes, and
its snapshots and commits.

Set-up (like bench.load: the default services, a namespace and database of its own):
symbols in PostgreSQL (the matcher loads their specs), then the whole input on `orders`:
per symbol a seeded bench/flow.py mix (~70% LIMIT GTC, ~10% MARKET, ~20% cancels of
resting orders) as the gate would send it. With one process the input is produced
before the matcher starts; with `--processes N` (sharing the four `orders` partitions)
the matchers start first and the input is produced once their group has settled.

Measured from the start (every matcher ready and the input waiting, or being produced)
to the broker timestamp (CreateTime, set when the matcher produced it) of the last
record the matcher wrote to `quotes` (every batch that touches a book writes one per
symbol): commands / that span is the throughput, and the matcher's CPU over it. The
start is not the first quote: the matcher's first batch, up to a quarter of the input
here, comes before any output, and how big it is depends on how fast Faust fetches.
Prints a progress line a second, a table and one JSON line. The namespace is deleted
unless --keep.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from confluent_kafka import Consumer, TopicPartition

from bench.flow import make_flow
from bench.load import _cleanup, _pg, _setup, _symbols
from bench.procstat import cpu_seconds
from bench.stage_ready import READY_TIMEOUT_S, wait_ready
from engine.commands import Cancel
from engine.enums import OrderType, Side
from infra.kafka_client import producer_config
from infra.settings import REPO_ROOT
from schemas.codec import encode
from schemas.records import AcceptedCancel, AcceptedOrder, OrderBatch

OUT_TOPICS = ("trades", "order-events", "book", "quotes")
# no new quote for this long: done. A matcher that takes the whole input as one batch
# publishes nothing for several seconds, so this is well above a batch's time
IDLE_END_S = 30.0
SETTLE_S = 5.0  # after the last matcher is ready: the rebalance it caused is done


def _records(symbols: list[tuple[str, int]], per_symbol: int, seed: int,
             per_record: int) -> tuple[list, int]:
    """(symbol, encoded `orders` record) in send order, the symbols' flows interleaved, each
    record a gate batch of up to `per_record` commands of one symbol; and the command count."""
    flows = []
    for k, (symbol, _) in enumerate(symbols):
        _, flow, _ = make_flow(per_symbol, seed=seed + k)
        flows.append((symbol, flow))
    out = []
    for start in range(0, max(len(f) for _, f in flows), per_record):
        for symbol, flow in flows:
            chunk = flow[start:start + per_record]
            if chunk:
                batch = OrderBatch(symbol, [_accepted(symbol, cmd) for cmd in chunk])
                out.append((symbol, encode(batch)))
    return out, sum(len(f) for _, f in flows)


def _accepted(symbol: str, cmd) -> AcceptedOrder | AcceptedCancel:
    if isinstance(cmd, Cancel):
        return AcceptedCancel(order_id=f"{symbol}-{cmd.order_id}", account=cmd.account,
                              symbol=symbol, ts=cmd.ts)
    price = cmd.price
    if cmd.type is OrderType.MARKET:  # the gate's collar: 10% through the flow's start
        price = 11_000 if cmd.side is Side.BUY else 9_000
    return AcceptedOrder(order_id=f"{symbol}-{cmd.order_id}", account=cmd.account,
                         symbol=symbol, side=str(cmd.side), order_type=str(cmd.type),
                         tif=str(cmd.tif), quantity=cmd.quantity, price=price, ts=cmd.ts)


def _seed_symbols(url: str, symbols: list[tuple[str, int]]) -> None:
    import psycopg

    sql = "COPY symbols (symbol, name, shares_outstanding, reference_price, tick_size) " \
          "FROM STDIN"
    with psycopg.connect(_pg(url)) as conn, conn.cursor() as cur, cur.copy(sql) as copy:
        for symbol, _ in symbols:
            copy.write_row((symbol, f"bench {symbol}", 1_000_000_000, 10_000, 1))


def _produce(settings, records: list) -> float:
    from confluent_kafka import Producer

    producer = Producer(producer_config(settings, **{"linger.ms": 20,
                                                     "queue.buffering.max.messages": 2_000_000}))
    topic = settings.topic("orders")
    started = time.monotonic()
    for symbol, value in records:
        while True:
            try:
                producer.produce(topic, value, symbol.encode())
                break
            except BufferError:
                producer.poll(0.05)
    left = producer.flush(120)
    if left:
        raise SystemExit(f"bench.matcher_stage: {left} input records not delivered")
    return time.monotonic() - started


def run(args) -> dict:
    settings, url = _setup(args)
    print(f"bench.matcher_stage: namespace {settings.namespace}", flush=True)
    symbols = _symbols(args.symbols)
    _seed_symbols(url, symbols)
    per_symbol = args.orders // len(symbols)
    records, commands = _records(symbols, per_symbol, args.seed, args.per_record)

    produce_s = _produce(settings, records) if args.processes == 1 else 0.0
    # MATCHSTREAM_STAGE: the stage process itself, without a supervisor, so its CPU is its own
    env = dict(os.environ, KAFKA_BOOTSTRAP=settings.kafka_bootstrap, DATABASE_URL=url,
               MATCHSTREAM_NAMESPACE=settings.namespace, PYTHONUNBUFFERED="1",
               MATCHSTREAM_STAGE="matcher")
    log_path = settings.home / "log" / "bench" / f"{settings.namespace}-matcher.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    procs = []
    with open(log_path, "ab") as log:  # each child keeps its own copy of the descriptor
        for _ in range(args.processes):
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "cli.main", "worker", "--stage", "matcher"],
                cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True))
    start = wait_ready(log_path, procs)
    if args.processes > 1:  # the group settles before any input: no rebalance mid-run
        time.sleep(SETTLE_S)
        start = time.time()
        cpu_start = sum(cpu_seconds(p.pid) for p in procs)
        produce_s = _produce(settings, records)
    else:
        cpu_start = sum(cpu_seconds(p.pid) for p in procs)
    print(f"bench.matcher_stage: {commands} commands in {len(records)} records on `orders` "
          f"(up to {args.per_record} a record; {produce_s:.1f} s to "
          f"produce); {args.processes} matcher process(es)", flush=True)
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap,
                         "group.id": f"bench-tap-{settings.namespace}",
                         "enable.auto.commit": False})
    parts = []
    for name in OUT_TOPICS:
        topic = settings.topic(name)
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        parts += [TopicPartition(topic, p, 0) for p in meta.partitions]
    consumer.assign(parts)
    counts = {name: 0 for name in OUT_TOPICS}
    by_full = {settings.topic(name): name for name in OUT_TOPICS}
    last_ms = None
    cpu_end = None  # at the last quote seen so far
    last_seen = time.monotonic()
    next_line = time.monotonic() + 1
    started = time.monotonic()
    try:
        while True:
            quoted = False
            for msg in consumer.consume(5000, 0.2):
                if msg.error() is not None:
                    continue
                name = by_full[msg.topic()]
                counts[name] += 1
                if name == "quotes":
                    ts = msg.timestamp()[1]
                    last_ms = ts if last_ms is None else max(last_ms, ts)
                    last_seen = time.monotonic()
                    quoted = True
            if quoted:  # the idle wait at the end is not the matcher's work
                cpu_end = sum(cpu_seconds(p.pid) for p in procs)
            now = time.monotonic()
            if now >= next_line:
                next_line += 1
                print(f"  t={now - started:5.1f}s out: " + " ".join(
                    f"{k}={v}" for k, v in counts.items()), flush=True)
            if any(p.poll() is not None for p in procs):
                raise SystemExit(f"a matcher exited; see {log_path}")
            if last_ms is not None and now - last_seen > IDLE_END_S:
                break
            if last_ms is None and now - started > READY_TIMEOUT_S:
                raise SystemExit(f"the matcher produced nothing; see {log_path}")
        cpu_s = (cpu_end or cpu_start) - cpu_start
    finally:
        consumer.close()
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        if not args.keep:
            _cleanup(settings, url)
    span_s = max(last_ms / 1000 - start, 1e-3)
    result = {"bench": "matcher_stage", "commands": commands, "records": len(records),
              "per_record": args.per_record, "symbols": len(symbols),
              "processes": args.processes,
              "span_s": round(span_s, 2), "commands_per_s": round(commands / span_s),
              "matcher_cpu_s": round(cpu_s, 1),
              "cpu_us_per_command": round(cpu_s * 1e6 / commands, 1),
              "records_out": counts, "load_avg_1m": round(os.getloadavg()[0], 2)}
    print(f"\n| commands | symbols | processes | ready->last output | commands/s | matcher "
          f"CPU | CPU per command |\n|---|---|---|---|---|---|---|\n| {commands} | "
          f"{len(symbols)} | {args.processes} | {span_s:.2f} s | "
          f"{result['commands_per_s']:,} | {cpu_s:.1f} s | {result['cpu_us_per_command']} us |")
    print(json.dumps(result))
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--symbols", type=int, default=50)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--per-record", type=int, default=100,
                        help="commands per `orders` record (a gate batch of one symbol)")
    parser.add_argument("--processes", type=int, default=1,
                        help="matcher processes sharing the `orders` partitions")
    parser.add_argument("--keep", action="store_true", help="keep the namespace")
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
