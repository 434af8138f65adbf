"""Events per second a stage can take in: a Faust agent vs a confluent-kafka consumer.

    python -m bench.intake --records 50000

Produces N small records to a fresh 4-partition topic, then reads them all (a) with a
Faust agent that only counts (`async for event in stream.events()`, in a worker
process of its own, as the platform's Faust stage runs) and (b) with a confluent-kafka
consumer taking batches (`consume(5000)`), as the gate, matcher and settlement stages
do. Each rate is counted from the first record read to the last. This is the figure
behind streams/runtime/stages.py's choice of transport. Starts the default services when
needed; the topic is deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import textwrap
import time
import uuid

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from infra import services
from infra.settings import load

FAUST_COUNTER = textwrap.dedent('''
    import os, sys, time
    import faust
    N, TOPIC = int(os.environ["N"]), os.environ["TOPIC"]
    app = faust.App("intake-" + TOPIC, broker="kafka://" + os.environ["BOOTSTRAP"],
                    store="memory://", web_enabled=False, topic_partitions=4)
    topic = app.topic(TOPIC, key_type=bytes, value_type=bytes, key_serializer="raw",
                      value_serializer="raw")
    seen, started = 0, None

    @app.agent(topic)
    async def count(stream):
        global seen, started
        async for event in stream.events():
            if started is None:
                started = time.perf_counter()
            seen += 1
            if seen == N:
                print(f"FAUST_SECONDS {time.perf_counter() - started:.3f}", flush=True)
                os._exit(0)

    sys.argv = ["intake", "worker", "--without-web", "-l", "warn"]
    app.main()
''')


def _produce(bootstrap: str, topic: str, n: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    for i in range(n):
        value = b'{"kind":"new","order_id":"o%d","account":"a%d","symbol":"S%d"}' % (
            i, i % 1000, i % 50)
        producer.produce(topic, value, b"S%d" % (i % 50))
        if i % 10_000 == 0:
            producer.poll(0)
    producer.flush(60)


def _faust(bootstrap: str, topic: str, n: int) -> float:
    env = dict(os.environ, N=str(n), TOPIC=topic, BOOTSTRAP=bootstrap)
    out = subprocess.run([sys.executable, "-c", FAUST_COUNTER], env=env, capture_output=True,
                         text=True, timeout=600, check=False)  # its output says how it went
    found = re.search(r"FAUST_SECONDS (\d+\.\d+)", out.stdout + out.stderr)
    if found:
        return float(found.group(1))
    raise SystemExit(f"the Faust counter did not finish:\n{out.stderr[-2000:]}")


def _confluent(bootstrap: str, topic: str, n: int) -> float:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"intake-{uuid.uuid4()}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    seen, started = 0, None
    try:
        while seen < n:
            for msg in consumer.consume(5000, 1.0):
                if msg.error() is None:
                    started = started or time.perf_counter()
                    seen += 1
        return time.perf_counter() - started
    finally:
        consumer.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=50_000)
    args = parser.parse_args(argv)
    settings = load()
    services.up(settings, say=lambda line: print(f"  {line}", flush=True))
    bootstrap = settings.kafka_bootstrap
    topic = f"bench-intake-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, 4, 1)])[topic].result()
    time.sleep(1)  # the new partitions' leaders
    try:
        _produce(bootstrap, topic, args.records)
        print(f"bench.intake: {args.records} records on {topic}", flush=True)
        faust_s = _faust(bootstrap, topic, args.records)
        confluent_s = _confluent(bootstrap, topic, args.records)
    finally:
        admin.delete_topics([topic])
    result = {"bench": "intake", "records": args.records,
              "faust_agent_per_s": round(args.records / faust_s),
              "confluent_consumer_per_s": round(args.records / confluent_s),
              "load_avg_1m": round(os.getloadavg()[0], 2)}
    print(f"| reader | events/s |\n|---|---|\n| Faust agent (count only) | "
          f"{result['faust_agent_per_s']:,} |\n| confluent-kafka consume(5000) | "
          f"{result['confluent_consumer_per_s']:,} |")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
