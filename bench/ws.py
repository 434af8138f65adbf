"""WebSocket fan-out latency: a trade published to Kafka -> delivered to every client.

    python -m bench.ws [--clients 1,100,1000] [--trades 100] [--rate 5]

Starts the platform's services when needed (like `matchstream up`), a namespace of its
own (topics and a database), the Starlette API under uvicorn in a subprocess, then for
each client count: connects that many WebSocket clients subscribed to `trades:BENCH`,
produces trades straight onto the `trades` topic at a steady rate with confluent-kafka,
and measures, for every (trade, client), the time from just before `produce()` to the
client's receipt (one clock: the clients run in this process). The clients share the
machine (and this process's one core) with the API, Kafka and PostgreSQL, so the
figures include their receive cost. Target from the brief: 50 ms.
By default the API runs with permessage-deflate off (`--ws-per-message-deflate false`,
advisable for a fan-out server: compression is per client and per message); `--deflate`
measures uvicorn's default.
Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import resource
import socket
import subprocess
import sys
import time
import uuid

import httpx
import websockets
from confluent_kafka import Producer

from infra import postgres, services, topics
from infra.kafka_client import producer_config
from infra.settings import REPO_ROOT, load
from ledger import admin
from ledger.db import make_engine
from ledger.migrate import upgrade
from schemas.codec import encode
from schemas.records import Trade

TARGET_MS = 50.0
SYMBOL = "BENCH"
WARMUP = 5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _setup():
    base = load()
    services.up(base, say=lambda line: None)
    namespace = f"bench-ws-{uuid.uuid4().hex[:8]}"
    url = (postgres.create_database(base, "db_" + namespace.replace("-", "_"))
           if base.manages_postgres else base.database_url)
    settings = dataclasses.replace(base, namespace=namespace, external_database_url=url)
    topics.ensure_topics(settings, say=lambda *_: None)
    upgrade(url)
    engine = make_engine(url)
    if not admin.add_symbol(engine, SYMBOL, 1_000_000, 10_000,
                            orders_partitions=topics.partition_count(settings, "orders")):
        pass  # already there (external database)
    engine.dispose()
    return settings


def _start_api(settings, port: int, deflate: bool) -> subprocess.Popen:
    env = dict(os.environ, KAFKA_BOOTSTRAP=settings.kafka_bootstrap,
               DATABASE_URL=settings.database_url, MATCHSTREAM_NAMESPACE=settings.namespace,
               MATCHSTREAM_WS_QUEUE=os.environ.get("MATCHSTREAM_WS_QUEUE", "4096"))
    log = open(settings.home / "log" / f"{settings.namespace}-api.log", "ab")  # noqa: SIM115 (the child owns it)
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "api.app:app", "--host",
                             "127.0.0.1", "--port", str(port), "--log-level", "warning",
                             "--backlog", "4096", "--ws-per-message-deflate",
                             "true" if deflate else "false"],
                            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/market/stats", timeout=2).is_success:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise SystemExit("the API did not start; see its log under var/log")


async def _client(url: str, sent: dict[int, float], out: list[float], ready: asyncio.Event,
                  counter: list[int], total: int, sockets: list) -> None:
    async with websockets.connect(url, open_timeout=120, max_queue=None) as ws:
        sockets.append(ws)
        await ws.send(json.dumps({"action": "subscribe", "channels": [f"trades:{SYMBOL}"]}))
        while True:
            m = json.loads(await ws.recv())
            if m.get("type") == "snapshot":
                break
        counter[0] += 1
        if counter[0] == total:
            ready.set()
        perf = time.perf_counter
        append = out.append
        try:
            async for raw in ws:  # until the scenario closes the socket
                now = perf()
                m = json.loads(raw)
                if m.get("type") == "update":
                    t0 = sent.get(m["data"]["seq"])
                    if t0 is not None:
                        append((now - t0) * 1000)
        except websockets.ConnectionClosed:
            pass


async def _scenario(settings, port: int, clients: int, trades: int, rate: float,
                    seq0: int) -> dict:
    url = f"ws://127.0.0.1:{port}/v1/ws"
    sent: dict[int, float] = {}
    latencies: list[float] = []
    ready = asyncio.Event()
    counter = [0]
    sockets: list = []
    tasks = []
    for i in range(clients):
        tasks.append(asyncio.create_task(
            _client(url, sent, latencies, ready, counter, clients, sockets)))
        if i % 50 == 49:
            await asyncio.sleep(0.05)  # do not flood the listen backlog
    await asyncio.wait_for(ready.wait(), 300)
    producer = Producer(producer_config(settings))
    topic = settings.topic("trades")
    for i in range(WARMUP):  # not measured: the first fetches of a new consumer
        producer.produce(topic, key=SYMBOL.encode(), value=encode(Trade(
            trade_id=f"{SYMBOL}-w{seq0}-{i}", symbol=SYMBOL, seq=0, price=10_000, quantity=1,
            buy_order_id="b", sell_order_id="s", buyer="b", seller="s", maker_order_id="s",
            aggressor="BUY", ts=int(time.time() * 1000))))
        producer.flush(30)
        await asyncio.sleep(0.2)
    interval = 1.0 / rate
    start = time.perf_counter()
    for i in range(trades):
        seq = seq0 + i
        value = encode(Trade(trade_id=f"{SYMBOL}-{seq}", symbol=SYMBOL, seq=seq, price=10_000,
                             quantity=1, buy_order_id="b", sell_order_id="s", buyer="b",
                             seller="s", maker_order_id="s", aggressor="BUY",
                             ts=int(time.time() * 1000)))
        sent[seq] = time.perf_counter()
        producer.produce(topic, key=SYMBOL.encode(), value=value)
        producer.poll(0)
        delay = start + (i + 1) * interval - time.perf_counter()
        await asyncio.sleep(max(0.0, delay))
    producer.flush(30)
    expected = trades * clients
    deadline = time.monotonic() + 60
    while len(latencies) < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    await asyncio.gather(*tasks, return_exceptions=True)
    lost = expected - len(latencies)
    return {"clients": clients, "trades": trades, "rate_per_s": rate,
            "samples": len(latencies), "missing": lost,
            "p50_ms": round(_percentile(latencies, 0.50), 2) if latencies else None,
            "p99_ms": round(_percentile(latencies, 0.99), 2) if latencies else None,
            "max_ms": round(max(latencies), 2) if latencies else None}


async def _run(args) -> list[dict]:
    settings = _setup()
    port = _free_port()
    api = _start_api(settings, port, args.deflate)
    results = []
    try:
        seq = 1
        for clients in args.clients:
            results.append(await _scenario(settings, port, clients, args.trades, args.rate,
                                           seq))
            seq += args.trades
            r = results[-1]
            print(f"{r['clients']:>5} clients: p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, "
                  f"max {r['max_ms']} ms ({r['samples']} deliveries, {r['missing']} missing)",
                  flush=True)
    finally:
        api.terminate()
        api.wait(timeout=20)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ws")
    parser.add_argument("--clients", default="1,100,1000",
                        type=lambda s: [int(x) for x in s.split(",")])
    parser.add_argument("--trades", type=int, default=100, help="trades per client count")
    parser.add_argument("--rate", type=float, default=5.0, help="trades per second")
    parser.add_argument("--deflate", action="store_true",
                        help="let clients negotiate permessage-deflate (uvicorn's default): "
                             "the server then compresses every message once per client")
    args = parser.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 8192)), hard))
    print(f"bench.ws: trade produced -> WebSocket delivery, {args.trades} trades at "
          f"{args.rate:g}/s per client count, permessage-deflate "
          f"{'on' if args.deflate else 'off'}; target p99 <= {TARGET_MS:g} ms", flush=True)
    results = asyncio.run(_run(args))
    ok = all(r["p99_ms"] is not None and r["p99_ms"] <= TARGET_MS and not r["missing"]
             for r in results)
    print(json.dumps({"bench": "ws", "target_ms": TARGET_MS, "meets_target": ok,
                      "deflate": args.deflate, "rate_per_s": args.rate,
                      "results": results}))


if __name__ == "__main__":
    main(sys.argv[1:])
