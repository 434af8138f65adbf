"""Failover time of the matcher stage: two matchers under load, one SIGKILLed.

    python -m bench.failover --standby 0
    python -m bench.failover --standby 1

Two `worker --stage matcher` processes (MATCHSTREAM_STANDBY_REPLICAS=N: Faust's standby
replicas of the books table) share the four `orders` partitions. Every symbol gets a
book of `--depth` resting orders, then a steady seeded flow (bench/flow.py) of `--rate`
commands/s runs throughout. After `--warm` seconds the worker that owns `orders`
partition 0 is SIGKILLed; for each partition it owned, the failover time is from the
kill to the first record the survivor writes to that partition of `quotes` (a symbol's
quotes partition is its `orders` partition: same key, partitioner and count), by broker
timestamp. Kafka's session timeout (10 s, streams/runtime/app.py) is part of it; the survivor's
log gives the phases: the group noticing (its revocation), Faust's reading of the books
changelog, the first record of a lost partition applied. Prints a table and one JSON
line; the namespace is deleted unless --keep.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from confluent_kafka import OFFSET_END, Consumer, Producer, TopicPartition

from bench.flow import make_flow
from bench.load import _cleanup, _setup, _symbols
from bench.matcher_stage import _accepted, _seed_symbols
from infra.kafka_client import producer_config
from infra.settings import REPO_ROOT
from schemas.codec import encode
from schemas.records import OrderBatch

READY_TIMEOUT_S = 120.0
SETTLE_S = 5.0
FAILOVER_TIMEOUT_S = 180.0
TICK_S = 0.05  # the flow is produced in steps of this long
ASSIGNED = re.compile(rb"matcher: partitions \[([0-9, ]*)\] assigned")
LOGGED = re.compile(rb"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\] \[\d+\] \[\w+\] (.*)$", re.M)


def _flows(symbols: list[str], depth: int, per_symbol: int, seed: int) -> dict:
    out = {}
    for k, symbol in enumerate(symbols):
        pre, flow, _ = make_flow(per_symbol, seed=seed + k, preload=depth)
        out[symbol] = ([_accepted(symbol, c) for c in pre], [_accepted(symbol, c) for c in flow])
    return out


def _send(producer: Producer, topic: str, symbol: str, commands: list) -> None:
    for start in range(0, len(commands), 100):  # gate-sized batches
        value = encode(OrderBatch(symbol, commands[start:start + 100]))
        while True:
            try:
                producer.produce(topic, value, symbol.encode())
                break
            except BufferError:
                producer.poll(0.05)


def _steady(producer: Producer, topic: str, flows: dict, rate: int,
            stop: threading.Event) -> None:
    """`rate` commands/s over every symbol, one record per symbol per step."""
    per_step = max(1, round(rate * TICK_S / len(flows)))
    step = 0
    next_at = time.monotonic()
    while not stop.is_set():
        for symbol, (_, flow) in flows.items():
            chunk = flow[step * per_step:(step + 1) * per_step]
            if chunk:
                _send(producer, topic, symbol, chunk)
        producer.poll(0)
        step += 1
        next_at += TICK_S
        time.sleep(max(0.0, next_at - time.monotonic()))
    producer.flush(30)


def _owned(log_path: Path) -> set[int]:
    """The `orders` partitions a matcher was last assigned, from its log."""
    found = ASSIGNED.findall(log_path.read_bytes())
    return {int(p) for p in found[-1].split(b",") if p.strip()} if found else set()


def _phases(log_path: Path, kill_s: float, lost: list[int]) -> dict[str, float | None]:
    """Seconds from the kill to each step of the survivor's take-over, from its log."""
    marks = {"revoked": rb"matcher: partitions \[.*\] revoked",
             "changelog_read_from": rb"Restoring state from changelog topics",
             "changelog_read_to": rb"Done reading from changelog topics",
             "first_record_applied": rb"matcher: partition (%s): " % b"|".join(
                 b"%d" % p for p in lost)}
    found: dict[str, float | None] = dict.fromkeys(marks)
    for stamp, text in LOGGED.findall(log_path.read_bytes()):
        at = time.mktime(time.strptime(stamp[:19].decode(), "%Y-%m-%d %H:%M:%S"))
        at += int(stamp[20:]) / 1000 - kill_s
        for name, pattern in marks.items():
            if at >= 0 and found[name] is None and re.search(pattern, text):
                found[name] = round(at, 2)
    return found


def _wait_ready(logs: list[Path]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not all(b"[^Worker]: Ready" in log.read_bytes() for log in logs):
        if time.monotonic() > deadline:
            raise SystemExit(f"the matchers were not ready; see {logs}")
        time.sleep(0.2)


def run(args) -> dict:
    settings, url = _setup(args)
    print(f"bench.failover: namespace {settings.namespace}, standby replicas {args.standby}",
          flush=True)
    symbols = [s for s, _ in _symbols(args.symbols)]
    _seed_symbols(url, [(s, 0) for s in symbols])
    per_symbol = int(args.rate * (args.warm + FAILOVER_TIMEOUT_S)) // len(symbols)
    flows = _flows(symbols, args.depth, per_symbol, args.seed)
    env = dict(os.environ, KAFKA_BOOTSTRAP=settings.kafka_bootstrap, DATABASE_URL=url,
               MATCHSTREAM_NAMESPACE=settings.namespace, PYTHONUNBUFFERED="1",
               MATCHSTREAM_STAGE="matcher", MATCHSTREAM_STANDBY_REPLICAS=str(args.standby))
    log_dir = settings.home / "log" / "bench"
    log_dir.mkdir(parents=True, exist_ok=True)
    procs, logs = [], []
    for n in range(2):
        logs.append(log_dir / f"{settings.namespace}-matcher{n}.log")
        with open(logs[-1], "ab") as log:
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "cli.main", "worker", "--stage", "matcher"],
                cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True))
    stop = threading.Event()
    producer = Producer(producer_config(settings, **{"linger.ms": 5}))
    orders, quotes = settings.topic("orders"), settings.topic("quotes")
    tap = Consumer({"bootstrap.servers": settings.kafka_bootstrap,
                    "group.id": f"bench-tap-{settings.namespace}", "enable.auto.commit": False})
    try:
        _wait_ready(logs)
        time.sleep(SETTLE_S)
        for symbol, (pre, _) in flows.items():
            _send(producer, orders, symbol, pre)
        producer.flush(60)
        sender = threading.Thread(target=_steady, args=(producer, orders, flows, args.rate,
                                                        stop), daemon=True)
        sender.start()
        time.sleep(args.warm)
        owners = [_owned(log) for log in logs]
        victim = 0 if 0 in owners[0] else 1
        lost = sorted(owners[victim])
        tap.assign([TopicPartition(quotes, p, OFFSET_END) for p in lost])
        tap.consume(1000, 1.0)  # positioned at the end before the kill
        os.kill(procs[victim].pid, signal.SIGKILL)
        kill_s = time.time()
        kill_ms = kill_s * 1000
        print(f"bench.failover: killed matcher {victim} (partitions {lost}) after "
              f"{args.warm} s of load", flush=True)
        first: dict[int, float] = {}
        deadline = time.monotonic() + FAILOVER_TIMEOUT_S
        while len(first) < len(lost) and time.monotonic() < deadline:
            for msg in tap.consume(1000, 0.2):
                if msg.error() is None and msg.timestamp()[1] >= kill_ms:
                    first.setdefault(msg.partition(), msg.timestamp()[1] - kill_ms)
            if procs[1 - victim].poll() is not None:
                raise SystemExit(f"the survivor exited; see {logs[1 - victim]}")
        phases = _phases(logs[1 - victim], kill_s, lost)
    finally:
        stop.set()
        tap.close()
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        if not args.keep:
            _cleanup(settings, url)
    result = {"bench": "failover", "standby_replicas": args.standby, "symbols": len(symbols),
              "depth": args.depth, "rate": args.rate, "warm_s": args.warm,
              "partitions": lost,
              "failover_ms": {p: round(first[p]) if p in first else None for p in lost},
              "survivor_s": phases,
              "load_avg_1m": round(os.getloadavg()[0], 2)}
    print("\n| standby replicas | partition | kill -> first output of the survivor |\n"
          "|---|---|---|")
    for p in lost:
        shown = f"{first[p] / 1000:.2f} s" if p in first else "none"
        print(f"| {args.standby} | {p} | {shown} |")
    print(json.dumps(result))
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--standby", type=int, default=0, help="standby replicas")
    parser.add_argument("--symbols", type=int, default=20)
    parser.add_argument("--depth", type=int, default=1000, help="resting orders per book")
    parser.add_argument("--rate", type=int, default=2000, help="commands/s, all symbols")
    parser.add_argument("--warm", type=int, default=30, help="seconds of load before the kill")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the namespace")
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
