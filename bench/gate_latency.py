"""The gate's latency floor: one batch transaction of 1 and of 300 requests, and its round trips.

    python -m bench.gate_latency --rounds 200 --delayed-rounds 20 --delay-ms 50

Against a seeded ledger (bench.load's: 1,000 accounts funded with $10M and 100,000 shares
of each of 50 symbols, i.e. 50,000 holdings, then ANALYZE), each round runs one gate
batch as the gate stage does: streams.gate_logic.process_batch under the retry policy's
transaction, timed from the call to the commit. A batch is new LIMIT GTC orders (buys
and sells, 0-20 ticks behind the reference price: they would rest) from random accounts,
with fresh ids.

Round trips: the same batches through two TCP proxies (processes of their own), one that
passes what the server sends on at once and one that holds it DELAY ms. Each time the
client waits for the server it pays DELAY once, whatever the statements, so
(median delayed - median undelayed) / DELAY counts the waits.
Prints a table and one JSON line; the namespace is deleted unless --keep.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import statistics
import time
from urllib.parse import urlsplit

from bench.load import _accounts, _cleanup, _seed, _setup, _symbols
from ledger.pg import Database
from ledger.retry import transaction
from schemas.codec import encode
from schemas.records import NewOrderRequest
from streams.gate_logic import RawRecord, process_batch

TOPIC = "order-requests"
WARM_UP = 5


class _Quiet:
    def blocked(self, reason: str, detail: str, retry_in: float) -> None:
        raise SystemExit(f"bench.gate_latency: the database is at fault ({reason}): {detail}")

    def cleared(self) -> None:
        pass


class DelayProxy(multiprocessing.Process):
    """127.0.0.1:port -> host:port; what the target sends arrives `delay_s` later.

    A process of its own, so that its copying never competes with the client for a GIL."""

    def __init__(self, host: str, port: int, delay_s: float) -> None:
        super().__init__(name="delay-proxy", daemon=True)
        self.target, self.delay_s = (host, port), delay_s
        self._port = multiprocessing.Queue()

    def run(self) -> None:
        asyncio.run(self._serve())

    def start_and_wait(self) -> int:
        self.start()
        return self._port.get(timeout=10)

    async def _serve(self) -> None:
        server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self._port.put(server.sockets[0].getsockname()[1])
        async with server:
            await server.serve_forever()

    async def _client(self, reader, writer) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        await asyncio.gather(self._pipe(reader, up_writer, 0.0),
                             self._pipe(up_reader, writer, self.delay_s),
                             return_exceptions=True)

    async def _pipe(self, src, dst, delay_s: float) -> None:
        queue: asyncio.Queue = asyncio.Queue()

        async def deliver() -> None:
            while (item := await queue.get()) is not None:
                due, chunk = item
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                dst.write(chunk)
                await dst.drain()
            dst.close()

        sender = asyncio.create_task(deliver())
        while chunk := await src.read(65536):
            await queue.put((time.monotonic() + delay_s, chunk))
        await queue.put(None)
        await sender


def _batch(rng: random.Random, accounts, symbols, size: int, tag: str,
           offset: int) -> list[RawRecord]:
    out = []
    for i in range(size):
        account = accounts[rng.randrange(len(accounts))]
        symbol, ref = symbols[rng.randrange(len(symbols))]
        side = "BUY" if rng.random() < 0.5 else "SELL"
        price = ref - rng.randint(0, 20) if side == "BUY" else ref + rng.randint(0, 20)
        value = encode(NewOrderRequest(order_id=f"{tag}-{i}", account=account, symbol=symbol,
                                       side=side, quantity=rng.randint(1, 100), price=price))
        out.append(RawRecord(account.encode(), value, partition=0, offset=offset + i))
    return out


async def _rounds(url: str, size: int, rounds: int, rng, accounts, symbols,
                  tag: str) -> tuple[list[float], float]:
    """Milliseconds of each round (after the warm-up), and CPU seconds per round."""
    db = Database(url)
    quiet = _Quiet()
    times: list[float] = []
    cpu = 0.0
    try:
        for r in range(WARM_UP + rounds):
            records = _batch(rng, accounts, symbols, size, f"{tag}{r}", r * size)
            now_ms = int(time.time() * 1000)
            cpu_start, started = time.process_time(), time.perf_counter()
            out = await transaction(db, lambda conn, records=records, now_ms=now_ms:
                                    process_batch(conn, TOPIC, records, now_ms), quiet)
            elapsed, used = time.perf_counter() - started, time.process_time() - cpu_start
            if out.accepted != size:
                raise SystemExit(f"bench.gate_latency: {out.accepted} of {size} accepted "
                                 f"({out.rejected})")
            if r >= WARM_UP:
                times.append(elapsed * 1000)
                cpu += used
    finally:
        await db.close()
    return times, cpu / rounds


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def _through(url: str, delay_ms: float) -> str:
    """The URL of a DelayProxy in front of url's server."""
    where = urlsplit(url)
    port = DelayProxy(where.hostname, where.port or 5432, delay_ms / 1000).start_and_wait()
    return where._replace(netloc=where.netloc.replace(
        f"{where.hostname}:{where.port}", f"127.0.0.1:{port}")).geturl()


def run(args) -> dict:
    settings, url = _setup(args)
    print(f"bench.gate_latency: namespace {settings.namespace}", flush=True)
    accounts, symbols = _accounts(args.accounts), _symbols(args.symbols)
    rng = random.Random(args.seed)
    # the proxy's own cost is in both: only the delay differs
    plain_url, delayed_url = _through(url, 0.0), _through(url, args.delay_ms)
    results = []
    load_before = os.getloadavg()[0]
    try:
        _seed(url, accounts, symbols)
        for size in args.sizes:
            direct, cpu_s = asyncio.run(_rounds(url, size, args.rounds, rng, accounts, symbols,
                                                f"d{size}-"))
            plain, _ = asyncio.run(_rounds(plain_url, size, args.delayed_rounds, rng, accounts,
                                           symbols, f"p{size}-"))
            delayed, _ = asyncio.run(_rounds(delayed_url, size, args.delayed_rounds, rng,
                                             accounts, symbols, f"x{size}-"))
            waits = (statistics.median(delayed) - statistics.median(plain)) / args.delay_ms
            results.append({"requests": size, "rounds": len(direct),
                            "p50_ms": round(statistics.median(direct), 2),
                            "p90_ms": round(_percentile(direct, 0.9), 2),
                            "cpu_ms": round(cpu_s * 1000, 2),
                            "proxied_p50_ms": round(statistics.median(plain), 1),
                            "delayed_p50_ms": round(statistics.median(delayed), 1),
                            "round_trips": round(waits, 1)})
    finally:
        if not args.keep:
            _cleanup(settings, url)
    print(f"\n| requests per batch | p50 (ms) | p90 (ms) | client CPU (ms) | p50 through the "
          f"proxy, +0 / +{args.delay_ms:g} ms per reply (ms) | round trips |\n"
          f"|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['requests']} | {r['p50_ms']} | {r['p90_ms']} | {r['cpu_ms']} | "
              f"{r['proxied_p50_ms']} / {r['delayed_p50_ms']} | {r['round_trips']} |")
    out = {"bench": "gate_latency", "delay_ms": args.delay_ms, "batches": results,
           "load_avg_1m_before": round(load_before, 2)}
    print(json.dumps(out))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 300])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--delayed-rounds", type=int, default=20)
    parser.add_argument("--delay-ms", type=float, default=50.0)
    parser.add_argument("--accounts", type=int, default=1_000)
    parser.add_argument("--symbols", type=int, default=50)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the namespace")
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
