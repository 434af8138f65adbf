"""Durable trades per second through the settlement stage alone: Kafka in, PostgreSQL out.

    python -m bench.settlement_stage --trades 100000 --accounts 1000 --symbols 50

The settlement stage (`matchstream worker --stage settlement`) on its own, with its real
input: the whole input is on `matcher-results` (records of one symbol, up to --per-record
trades each, as the matcher writes them) before the stage starts, so neither the matcher
nor a producer limits it.

Set-up (like bench.load: the default services, a namespace and database of its own):
accounts funded with cash and every symbol's shares (adjustment rows, so reconcile's
conservation holds), then the resting orders the trades fill, written directly into
`orders` with their reservations (accounts' reserved cash, holdings' reserved shares and
open buys), all with COPY, then ANALYZE. Per symbol a seeded sequence of trades: an
aggressor order takes 1-3 maker orders at their prices (it reserved at its limit, 0-5
ticks through the worst of them: price improvement goes back to the buyer); a third of
the makers have a remainder left open, and a CANCELLED order event (the matcher's)
releases a quarter of those. Accounts uniform.

Measured: from the stage's Ready line (the whole input waiting) to the moment the last
trade of every symbol is seen committed (`symbols.last_trade_seq`, every 10 ms): trades /
that span is the throughput (trades.settled_ms, set at each insert, would leave out the
first batch's work before its inserts and the last one's after them, its commit
included); the stage process's CPU over that span, and its PostgreSQL backends' CPU;
and a digest of the resulting ledger (balances, holdings with their cost basis, order
fills and statuses), the same for the same seed whatever code settled it. Reconcile runs
at the end. Prints a progress line a second, a table and one JSON line. The namespace is
deleted unless --keep.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from confluent_kafka import Producer

from bench.load import _accounts, _cleanup, _pg, _setup, _symbols
from bench.procstat import cpu_seconds
from bench.reconciled import reconciled
from bench.stage_ready import wait_ready
from infra.kafka_client import producer_config
from infra.settings import REPO_ROOT
from schemas.codec import encode
from schemas.records import MatcherResults, OrderEvent, Trade

CASH_EACH = 1_000_000_000  # $10M per account, cents
SHARES_EACH = 100_000  # of every symbol, per account
SHARES_OUTSTANDING = 1_000_000_000
SETTLED_POLL_S = 0.01
STALL_S = 60.0  # no trade settled for this long: give up


@dataclass
class Order:
    order_id: str
    account: str
    symbol: str
    side: str
    price: int
    quantity: int


@dataclass
class Workload:
    orders: list[Order]
    trades: list[Trade]  # in send order: the symbols' sequences interleaved
    releases: list[OrderEvent]


def _workload(accounts: list[str], symbols: list[tuple[str, int]], trades: int,
              seed: int) -> Workload:
    rng = random.Random(seed)
    per_symbol = max(1, trades // len(symbols))
    orders: list[Order] = []
    sequences: list[list[Trade]] = []
    releases: list[OrderEvent] = []
    ts = 1_700_000_000_000
    for symbol, ref in symbols:
        made: list[Trade] = []
        seq = 0
        while len(made) < per_symbol:
            taker_side = "BUY" if rng.random() < 0.5 else "SELL"
            maker_side = "SELL" if taker_side == "BUY" else "BUY"
            taker = accounts[rng.randrange(len(accounts))]
            taker_id = f"{symbol}-t{seq + 1}"
            fills = []
            for _ in range(min(rng.randint(1, 3), per_symbol - len(made))):
                seq += 1
                ts += 1
                maker = taker
                while maker == taker:
                    maker = accounts[rng.randrange(len(accounts))]
                price = max(1, ref + rng.randint(-20, 20))
                quantity = rng.randint(1, 100)
                left = rng.randint(1, 50) if rng.random() < 1 / 3 else 0
                maker_id = f"{symbol}-m{seq}"
                orders.append(Order(maker_id, maker, symbol, maker_side, price, quantity + left))
                buy, sell = (taker_id, maker_id) if taker_side == "BUY" else (maker_id, taker_id)
                buyer, seller = (taker, maker) if taker_side == "BUY" else (maker, taker)
                fills.append(Trade(trade_id=f"{symbol}-{seq}", symbol=symbol, seq=seq,
                                   price=price, quantity=quantity, buy_order_id=buy,
                                   sell_order_id=sell, buyer=buyer, seller=seller,
                                   maker_order_id=maker_id, aggressor=taker_side, ts=ts))
                if left and rng.random() < 0.25:
                    releases.append(OrderEvent(order_id=maker_id, account=maker, symbol=symbol,
                                               status="CANCELLED", ts=ts, reason="USER",
                                               remaining_quantity=left, seq=seq))
            through = rng.randint(0, 5)
            limit = (max(t.price for t in fills) + through if taker_side == "BUY"
                     else max(1, min(t.price for t in fills) - through))
            orders.append(Order(taker_id, taker, symbol, taker_side, limit,
                                sum(t.quantity for t in fills)))
            made += fills
        sequences.append(made)
    interleaved = [s[i] for i in range(per_symbol) for s in sequences if i < len(s)]
    return Workload(orders, interleaved, releases)


def _seed(url: str, accounts: list[str], symbols: list[tuple[str, int]], work: Workload) -> None:
    """Balances, holdings and resting orders with their reservations, by COPY."""
    reserved_cash = dict.fromkeys(accounts, 0)
    reserved_shares: dict[tuple[str, str], int] = {}
    open_buys: dict[tuple[str, str], int] = {}
    for o in work.orders:
        if o.side == "BUY":
            reserved_cash[o.account] += o.price * o.quantity
            open_buys[(o.account, o.symbol)] = open_buys.get((o.account, o.symbol), 0) + o.quantity
        else:
            key = (o.account, o.symbol)
            reserved_shares[key] = reserved_shares.get(key, 0) + o.quantity
    with psycopg.connect(_pg(url)) as conn, conn.cursor() as cur:
        with cur.copy("COPY symbols (symbol, name, shares_outstanding, reference_price, "
                      "tick_size) FROM STDIN") as copy:
            for sym, ref in symbols:
                copy.write_row((sym, f"bench {sym}", SHARES_OUTSTANDING, ref, 1))
        with cur.copy("COPY accounts (account_id, name, cash, reserved_cash) FROM STDIN") as copy:
            for acc in accounts:
                copy.write_row((acc, "bench", CASH_EACH - reserved_cash[acc], reserved_cash[acc]))
        with cur.copy("COPY holdings (account_id, symbol, quantity, reserved_quantity, "
                      "open_buy_quantity) FROM STDIN") as copy:
            for acc in accounts:
                for sym, _ in symbols:
                    held = reserved_shares.get((acc, sym), 0)
                    copy.write_row((acc, sym, SHARES_EACH - held, held,
                                    open_buys.get((acc, sym), 0)))
        with cur.copy("COPY adjustments (account_id, asset, amount, reference, note) "
                      "FROM STDIN") as copy:
            for acc in accounts:
                copy.write_row((acc, "CASH", CASH_EACH, f"bench:{acc}:CASH", "bench seed"))
                for sym, _ in symbols:
                    copy.write_row((acc, sym, SHARES_EACH, f"bench:{acc}:{sym}", "bench seed"))
        with cur.copy("COPY orders (order_id, account_id, symbol, side, order_type, tif, "
                      "quantity, price, status, reserved_cash, reserved_quantity, created_ms, "
                      "updated_ms) FROM STDIN") as copy:
            for o in work.orders:
                buy = o.side == "BUY"
                copy.write_row((o.order_id, o.account, o.symbol, o.side, "LIMIT", "GTC",
                                o.quantity, o.price, "ACCEPTED",
                                o.price * o.quantity if buy else 0, 0 if buy else o.quantity,
                                1_700_000_000_000, 1_700_000_000_000))
        conn.commit()
        conn.execute("ANALYZE")


def _produce(settings, work: Workload, per_record: int) -> float:
    """The trades and releases as the matcher writes them: `matcher-results` records of one
    symbol each, up to `per_record` trades a record, a symbol's releases after its trades;
    and every trade on `trades` too, which reconcile reads."""
    producer = Producer(producer_config(settings, **{"linger.ms": 20,
                                                     "queue.buffering.max.messages": 2_000_000}))
    by_symbol: dict[str, list[Trade]] = {}
    for t in work.trades:
        by_symbol.setdefault(t.symbol, []).append(t)
    releases: dict[str, list[OrderEvent]] = {}
    for e in work.releases:
        releases.setdefault(e.symbol, []).append(e)
    records = [("trades", t.symbol, encode(t)) for t in work.trades]
    chunks = {symbol: [trades[i:i + per_record] for i in range(0, len(trades), per_record)]
              for symbol, trades in by_symbol.items()}
    for i in range(max(len(c) for c in chunks.values())):  # the symbols interleaved
        for symbol, symbol_chunks in chunks.items():
            if i < len(symbol_chunks):
                last = i == len(symbol_chunks) - 1
                records.append(("matcher-results", symbol, encode(MatcherResults(
                    symbol, symbol_chunks[i], releases.get(symbol, []) if last else [], []))))
    started = time.monotonic()
    for name, key, value in records:
        while True:
            try:
                producer.produce(settings.topic(name), value, key.encode())
                break
            except BufferError:
                producer.poll(0.05)
    if producer.flush(120):
        raise SystemExit("bench.settlement_stage: input records not delivered")
    return time.monotonic() - started


def _digest(conn: psycopg.Connection) -> str:
    """The ledger's state after settlement, without times: equal for equal outcomes."""
    h = hashlib.sha256()
    for sql in ("SELECT account_id, cash, reserved_cash FROM accounts ORDER BY 1",
                ("SELECT account_id, symbol, quantity, reserved_quantity, cost_basis "
                 "FROM holdings ORDER BY 1, 2"),
                ("SELECT order_id, filled_quantity, cancelled_quantity, reserved_cash, "
                 "reserved_quantity, status FROM orders ORDER BY 1"),
                "SELECT symbol, last_price, last_trade_seq FROM symbols ORDER BY 1",
                "SELECT trade_id FROM trades ORDER BY 1"):
        for row in conn.execute(sql):
            h.update(repr(tuple(row)).encode())
    return h.hexdigest()[:16]


def _watch(conn: psycopg.Connection, proc: subprocess.Popen, log_path: Path, work: Workload
           ) -> float:
    """When (time.time()) every trade was first seen committed, a progress line a second.

    Polled every SETTLED_POLL_S from `symbols.last_trade_seq`, which settlement sets in
    the transaction that settles the trade: a symbol's trades are numbered from 1 and
    settled in order, so the sum over the symbols is the trades committed. A symbol's
    releases settle with its last trades. The poll reads 50 rows. Looking the trades up
    by key instead scanned the table (its statistics are from before the run): 15 ms a
    call, then 10 ms of sleep, over half a core taken from the stage. The counts are
    checked once at the end."""
    symbols = sorted({t.symbol for t in work.trades})
    trades = len(work.trades)
    started = last_progress = time.monotonic()
    next_line = started + 1.0
    done = 0
    while True:
        time.sleep(SETTLED_POLL_S)
        settled = conn.execute("SELECT coalesce(sum(last_trade_seq), 0) FROM symbols "
                               "WHERE symbol = ANY(%s)", (symbols,)).fetchone()[0]
        if settled >= trades:
            settled_at = time.time()
            break
        now = time.monotonic()
        if settled != done:
            done, last_progress = settled, now
        if now < next_line:
            continue
        next_line += 1.0
        if proc.poll() is not None:
            raise SystemExit(f"the settlement stage exited; see {log_path}")
        if now - last_progress > STALL_S:
            raise SystemExit(f"no trade settled for {STALL_S:.0f} s; see {log_path}")
        print(f"  t={now - started:5.1f}s settled {settled:,} of {trades:,} trades", flush=True)
    recorded = conn.execute("SELECT count(*) FROM trades").fetchone()[0]
    released = conn.execute(
        "SELECT count(*) FROM orders WHERE cancelled_quantity > 0").fetchone()[0]
    if recorded != trades or released < len(work.releases):
        raise SystemExit(f"settled: {recorded:,} trades of {trades:,}, {released:,} releases "
                         f"of {len(work.releases):,}; see {log_path}")
    return settled_at


def run(args) -> dict:
    settings, url = _setup(args)
    print(f"bench.settlement_stage: namespace {settings.namespace}", flush=True)
    accounts, symbols = _accounts(args.accounts), _symbols(args.symbols)
    work = _workload(accounts, symbols, args.trades, args.seed)
    seed_started = time.monotonic()
    _seed(url, accounts, symbols, work)
    produce_s = _produce(settings, work, args.per_record)
    print(f"bench.settlement_stage: {len(work.orders):,} resting orders seeded "
          f"({time.monotonic() - seed_started - produce_s:.1f} s); {len(work.trades):,} trades "
          f"and {len(work.releases):,} releases produced ({produce_s:.1f} s)", flush=True)

    # MATCHSTREAM_STAGE: the stage process itself, without a supervisor, so its CPU is its own
    env = dict(os.environ, KAFKA_BOOTSTRAP=settings.kafka_bootstrap, DATABASE_URL=url,
               MATCHSTREAM_NAMESPACE=settings.namespace, PYTHONUNBUFFERED="1",
               MATCHSTREAM_STAGE="settlement")
    log_path = settings.home / "log" / "bench" / f"{settings.namespace}-settlement.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "worker", "--stage", "settlement"],
            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
    load_before = os.getloadavg()[0]
    try:
        with psycopg.connect(_pg(url), autocommit=True) as conn:
            ready_at = wait_ready(log_path, [proc])
            cpu_start = cpu_seconds(proc.pid)
            settled_at = _watch(conn, proc, log_path, work)
            cpu_s = cpu_seconds(proc.pid) - cpu_start
            backends = [r[0] for r in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name LIKE "
                "'matchstream-settlement %'")]
            pg_cpu_s = sum(cpu_seconds(pid) for pid in backends)
            digest = _digest(conn)
        ledger_ok = reconciled(settings, url) if not args.no_reconcile else None
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        if not args.keep:
            _cleanup(settings, url)
    n = len(work.trades)
    span_s = max(settled_at - ready_at, 1e-3)
    result = {"bench": "settlement_stage", "trades": n, "releases": len(work.releases),
              "accounts": len(accounts), "symbols": len(symbols),
              "span_s": round(span_s, 2), "trades_per_s": round(n / span_s),
              "stage_cpu_s": round(cpu_s, 2), "cpu_us_per_trade": round(cpu_s * 1e6 / n, 1),
              "pg_backends": len(backends), "pg_cpu_s": round(pg_cpu_s, 2),
              "pg_cpu_us_per_trade": round(pg_cpu_s * 1e6 / n, 1), "digest": digest,
              "reconciled": ledger_ok, "load_avg_1m_before": round(load_before, 2)}
    print(f"\n| trades | releases | ready->all committed | trades/s | stage CPU | CPU per trade "
          f"| PostgreSQL CPU ({len(backends)} backends) | per trade |\n"
          f"|---|---|---|---|---|---|---|---|\n"
          f"| {n:,} | {len(work.releases):,} | {span_s:.2f} s | {result['trades_per_s']:,} | "
          f"{cpu_s:.1f} s | {result['cpu_us_per_trade']} us | {pg_cpu_s:.1f} s | "
          f"{result['pg_cpu_us_per_trade']} us |")
    print(f"ledger digest {digest}; reconcile: "
          + {True: "ok", False: "FAILED", None: "skipped"}[ledger_ok])
    print(json.dumps(result))
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trades", type=int, default=100_000)
    parser.add_argument("--accounts", type=int, default=1_000)
    parser.add_argument("--symbols", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--per-record", type=int, default=100,
                        help="trades per matcher-results record (a matcher batch of a symbol)")
    parser.add_argument("--no-reconcile", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the namespace")
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
