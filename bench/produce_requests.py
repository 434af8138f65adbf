"""What the broker pays for the stages' output: librdkafka's request per partition vs a
producer that puts every partition of a batch in one request.

    python -m bench.produce_requests --seconds 20 --interval-ms 10 --burst 4

A matcher batch at low rates writes a few records, each to another partition of
`trades`, `order-events`, `book`, `quotes` and `matcher-results`. This bench makes that
shape on 5 fresh topics of 4 partitions: every `--interval-ms`, a burst of `--burst`
records to distinct partitions. It sends the same schedule (a) with confluent-kafka
(linger 2 ms, idempotent, as streams/runtime/output.py), which sends one ProduceRequest
per partition (librdkafka issue #1700), and (b) with aiokafka (linger 2 ms, idempotent),
which puts every partition bound for a broker in one request; twice each, alternated.
Measured: the broker's CPU (from /proc) and this process's CPU per record over each run,
and the broker's request rate derived from it. Starts the default services when needed;
the topics are deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import time
import uuid

from aiokafka import AIOKafkaProducer
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from bench.procstat import cpu_seconds
from infra import kafka_broker, services
from infra.kafka_client import producer_config
from infra.settings import load

TOPICS = ("trades", "order-events", "book", "quotes", "matcher-results")
PARTITIONS = 4
VALUE = b"x" * 200


def _own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _schedule(args, topics: list[str]):
    """(due time from the start, [(topic, partition), ...]) of each burst."""
    targets = [(t, p) for t in topics for p in range(PARTITIONS)]
    bursts, k = [], 0
    for i in range(int(args.seconds * 1000 / args.interval_ms)):
        burst = [targets[(k + j) % len(targets)] for j in range(args.burst)]
        k += args.burst
        bursts.append((i * args.interval_ms / 1000, burst))
    return bursts


def _confluent(settings, bursts) -> None:
    producer = Producer(producer_config(settings, **{"linger.ms": 2}))
    start = time.monotonic()
    for due, burst in bursts:
        while (wait := start + due - time.monotonic()) > 0:
            producer.poll(wait)
        for topic, partition in burst:
            producer.produce(topic, VALUE, b"k", partition)
        producer.poll(0)
    producer.flush(30)


async def _aiokafka(settings, bursts) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=2,
                                enable_idempotence=True)
    await producer.start()
    try:
        start = time.monotonic()
        for due, burst in bursts:
            if (wait := start + due - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            for topic, partition in burst:
                await producer.send(topic, VALUE, key=b"k", partition=partition)
        await producer.flush()
    finally:
        await producer.stop()


def _measure(name: str, run, broker_pid: int, records: int) -> dict:
    broker0, own0, wall0 = cpu_seconds(broker_pid), _own_cpu_s(), time.monotonic()
    run()
    broker = cpu_seconds(broker_pid) - broker0
    own = _own_cpu_s() - own0
    row = {"producer": name, "seconds": round(time.monotonic() - wall0, 1),
           "broker_cpu_s": round(broker, 2), "broker_us_per_record": round(broker / records * 1e6),
           "client_us_per_record": round(own / records * 1e6)}
    print(f"  {name}: {row}", flush=True)
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--interval-ms", type=float, default=10)
    parser.add_argument("--burst", type=int, default=4)
    args = parser.parse_args(argv)
    settings = load()
    services.up(settings, say=lambda line: print(f"  {line}", flush=True))
    broker_pid = kafka_broker.running_pid(settings)
    if broker_pid is None:
        raise SystemExit("bench.produce_requests measures the broker this project runs; "
                         "KAFKA_BOOTSTRAP points at another")
    run_id = uuid.uuid4().hex[:8]
    topics = [f"bench-produce-{run_id}-{name}" for name in TOPICS]
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    for future in admin.create_topics([NewTopic(t, PARTITIONS, 1) for t in topics]).values():
        future.result()
    time.sleep(1)  # the new partitions' leaders
    bursts = _schedule(args, topics)
    records = sum(len(b) for _, b in bursts)
    print(f"bench.produce_requests: {records} records in bursts of {args.burst} every "
          f"{args.interval_ms} ms over {len(topics) * PARTITIONS} partitions", flush=True)
    rows = []
    try:
        for _ in range(2):
            rows.append(_measure("confluent-kafka", lambda: _confluent(settings, bursts),
                                 broker_pid, records))
            rows.append(_measure("aiokafka", lambda: asyncio.run(_aiokafka(settings, bursts)),
                                 broker_pid, records))
    finally:
        admin.delete_topics(topics)
    print("| producer | broker CPU per record | client CPU per record |\n|---|---|---|")
    for row in rows:
        print(f"| {row['producer']} | {row['broker_us_per_record']} µs | "
              f"{row['client_us_per_record']} µs |")
    print(json.dumps({"bench": "produce_requests", "records": records, "burst": args.burst,
                      "interval_ms": args.interval_ms, "runs": rows,
                      "load_avg_1m": round(os.getloadavg()[0], 2)}))


if __name__ == "__main__":
    main()
