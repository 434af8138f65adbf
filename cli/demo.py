"""`matchstream demo`: services, a worker, the API and a simulated market, with a live tape."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition
from sqlalchemy import text

from api.auth import issue_token
from cli.simulator import Simulator, SymbolState, Tape, trade_line
from engine.status import OrderStatus
from infra import process, services
from infra.settings import Settings, load
from infra.topics import partition_count
from ledger import admin
from ledger.db import make_engine
from ledger.migrate import upgrade
from ledger.tables import OPEN_STATUSES
from schemas.money import format_cents
from streams.runtime.readiness import READY_LINE
from streams.runtime.stages import consumer_groups

SYMBOLS = {"ACME": 10_000, "BOLT": 5_000, "CRUX": 2_000}  # reference prices, cents
SHARES_OUTSTANDING = 1_000_000
TRADERS = [f"t{i}" for i in range(1, 7)]
CASH = 100_000_000  # $1,000,000 each
SHARES_EACH = 10_000  # well under the 5% position limit (50,000), leaving room to buy
ORDERS_PER_SECOND = 30
SUMMARY_EVERY_S = 10.0
WORKER_READY_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 20.0
DRAIN_TIMEOUT_S = 30.0
SCREEN_ACCOUNT = "you"  # the human at the trading screen; the simulator never trades it
SCREEN_CASH = 10_000_000  # $100,000
SCREEN_SHARES = 500


def run(args) -> None:
    settings = load()
    # SIGTERM (e.g. `timeout`) takes the same clean path as Ctrl-C
    signal.signal(signal.SIGTERM, _interrupt)
    print(f"demo: starting Kafka ({settings.kafka_bootstrap}) and PostgreSQL; "
          f"service logs in {settings.log_dir}", flush=True)
    services.up(settings)
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    children: dict[str, Path] = {}
    try:
        _seed(engine, partition_count(settings, "orders"))
        symbols = _symbol_states(engine)
        children = _start_children(settings, args.port)
        screen = _screen_access(engine, args.port)
        _simulate(settings, engine, symbols, args.seconds, screen)
    except KeyboardInterrupt:
        print("\ndemo: interrupted", flush=True)
    finally:
        _stop_children(children)
        engine.dispose()
        print("demo: Kafka and PostgreSQL are still running; `matchstream down` stops them",
              flush=True)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _seed(engine, orders_partitions: int) -> None:
    """Idempotent: fixed adjustment references, so a re-run never funds twice."""
    for symbol, price in SYMBOLS.items():
        admin.add_symbol(engine, symbol, SHARES_OUTSTANDING, price, tick_size=1,
                         name=f"{symbol.title()} Corp", orders_partitions=orders_partitions)
    for trader in TRADERS:
        admin.create_account(engine, trader, name=f"demo trader {trader}")
        admin.adjust(engine, trader, admin.CASH, CASH, reference=f"demo-seed:{trader}:CASH",
                     note="demo seed")
        for symbol in SYMBOLS:
            admin.adjust(engine, trader, symbol, SHARES_EACH,
                         reference=f"demo-seed:{trader}:{symbol}", note="demo seed")
    print(f"demo: seeded {', '.join(SYMBOLS)} and traders {', '.join(TRADERS)} "
          f"({format_cents(CASH)} cash and {SHARES_EACH:,} shares of each, once)", flush=True)


def _screen_access(engine, port: int) -> str:
    """Fund the screen's account (once) and mint a token (each run: tokens are shown once)."""
    admin.create_account(engine, SCREEN_ACCOUNT, name="you, at the trading screen")
    admin.adjust(engine, SCREEN_ACCOUNT, admin.CASH, SCREEN_CASH,
                 reference=f"demo-seed:{SCREEN_ACCOUNT}:CASH", note="demo seed")
    for symbol in SYMBOLS:
        admin.adjust(engine, SCREEN_ACCOUNT, symbol, SCREEN_SHARES,
                     reference=f"demo-seed:{SCREEN_ACCOUNT}:{symbol}", note="demo seed")
    token = issue_token(engine, SCREEN_ACCOUNT, label="demo trading screen")
    line = (f"demo: trading screen: http://127.0.0.1:{port}/screen/ — sign in with token "
            f"{token} (account {SCREEN_ACCOUNT!r})")
    print(line, flush=True)
    return line


def _symbol_states(engine) -> list[SymbolState]:
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT symbol, reference_price, tick_size, coalesce(last_price, reference_price) "
            "FROM symbols WHERE symbol = ANY(:s) ORDER BY symbol"), {"s": list(SYMBOLS)})
        # resume from the last trade so a re-run does not jump the price
        return [SymbolState(s, ref, tick, last // tick * tick) for s, ref, tick, last in rows]


def _pid_file(settings: Settings, name: str) -> Path:
    return settings.home / "demo" / f"{name}.pid"


def _start_children(settings: Settings, port: int) -> dict[str, Path]:
    pid_files = {name: _pid_file(settings, name) for name in ("worker", "api")}
    for name, pid_file in pid_files.items():
        pid_file.parent.mkdir(parents=True, exist_ok=True)
        if process.terminate(pid_file, timeout=STOP_TIMEOUT_S):
            print(f"demo: stopped a {name} left running by an earlier demo", flush=True)
    if process.port_open(port):
        raise SystemExit(f"demo: port {port} is already in use; choose another with --port")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    worker_log = settings.log_dir / "worker.log"
    api_log = settings.log_dir / "api.log"
    worker_log.parent.mkdir(parents=True, exist_ok=True)
    offset = worker_log.stat().st_size if worker_log.exists() else 0
    pid = process.spawn([sys.executable, "-m", "cli.main", "worker"], worker_log,
                        pid_files["worker"], env)
    print(f"demo: worker started (pid {pid}), log {worker_log}", flush=True)
    pid = process.spawn([sys.executable, "-m", "cli.main", "api", "--port", str(port)],
                        api_log, pid_files["api"], env)
    print(f"demo: API started (pid {pid}) on http://127.0.0.1:{port}, log {api_log}",
          flush=True)
    try:
        _wait_worker_ready(worker_log, offset, pid_files["worker"])
    except BaseException:
        _stop_children(pid_files)
        raise
    return pid_files


def _wait_worker_ready(log: Path, offset: int, pid_file: Path) -> None:
    print(f"demo: waiting for the worker to be ready (up to {WORKER_READY_TIMEOUT_S:.0f} s)...",
          flush=True)
    started = time.monotonic()
    next_note = started + 15
    while time.monotonic() - started < WORKER_READY_TIMEOUT_S:
        with open(log, "rb") as f:
            f.seek(offset)
            text_so_far = f.read()
        if READY_LINE.encode() in text_so_far:
            print(f"demo: worker ready after {time.monotonic() - started:.1f} s", flush=True)
            return
        # Faust logs this and retries forever: the worker would never become ready
        if b"Error in recovery" in text_so_far:
            _fail("the worker cannot restore its tables from their changelog topics "
                  "('Error in recovery'), so it will never be ready", log, offset)
        if process.read_pid(pid_file) is None:
            _fail("the worker exited during start-up", log, offset)
        if time.monotonic() >= next_note:
            print(f"demo: still waiting for the worker; its log is {log}", flush=True)
            next_note += 15
        time.sleep(0.25)
    _fail(f"the worker was not ready after {WORKER_READY_TIMEOUT_S:.0f} s", log, offset)


def _fail(why: str, log: Path, offset: int) -> None:
    with open(log, "rb") as f:  # this run's lines only: the log is appended to
        f.seek(offset)
        lines = f.read().decode(errors="replace").splitlines()[-40:]
    print(f"demo: {why}; last lines of {log}:\n" + "\n".join(lines), file=sys.stderr,
          flush=True)
    raise SystemExit(1)


def _stop_children(pid_files: dict[str, Path]) -> None:
    # API first: it produces into the pipeline the worker drains
    for name in ("api", "worker"):
        pid_file = pid_files.get(name)
        if pid_file is not None and process.read_pid(pid_file) is not None:
            print(f"demo: stopping the {name}...", flush=True)
            process.terminate(pid_file, timeout=STOP_TIMEOUT_S)


def _simulate(settings: Settings, engine, symbols: list[SymbolState], seconds: float,
              screen: str = "") -> None:
    tape = Tape(settings)
    sim = Simulator(settings, TRADERS, symbols, SHARES_EACH)
    # orders an earlier demo left resting become cancel targets, so reservations stay bounded
    with engine.connect() as conn:
        for order_id, account, symbol in conn.execute(text(
                "SELECT order_id, account_id, symbol FROM orders WHERE account_id = ANY(:t) "
                "AND status IN " + OPEN_STATUSES + " ORDER BY created_ms"),
                {"t": TRADERS}):
            sim.open[account][order_id] = symbol
    until = time.monotonic() + seconds if seconds > 0 else None
    print(f"demo: simulating {len(TRADERS)} traders at ~{ORDERS_PER_SECOND} orders/s "
          f"{'for %.0f s' % seconds if until else 'until Ctrl-C'}", flush=True)
    interval = 1.0 / ORDERS_PER_SECOND
    next_order = time.monotonic()
    next_summary = next_order + SUMMARY_EVERY_S
    first_accept = None

    def on_trade(trade) -> None:
        print(trade_line(trade), flush=True)
        sim.on_trade(trade)

    try:
        while until is None or time.monotonic() < until:
            now = time.monotonic()
            while next_order <= now:
                sim.step()
                next_order += interval
            tape.poll(max(0.0, min(0.05, next_order - time.monotonic())), on_trade,
                      sim.on_event)
            if first_accept is None and tape.statuses[OrderStatus.ACCEPTED]:
                first_accept = now
                print("demo: orders are being accepted", flush=True)
            if now >= next_summary:
                _summary(engine, sim, tape)
                print(screen, flush=True)  # the tape scrolls it away: say it again
                next_summary += SUMMARY_EVERY_S
    finally:
        undelivered = sim.close()
        if undelivered or sim.delivery_errors:
            print(f"demo: {undelivered} requests undelivered, {sim.delivery_errors} delivery "
                  f"errors", flush=True)
        # stopping the worker mid-backlog would leave trades unsettled until its next start
        _drain(settings, lambda: tape.poll(0.5, on_trade, sim.on_event))
        _summary(engine, sim, tape)
        tape.close()


def _drain(settings: Settings, keep_reading) -> None:
    print(f"demo: orders stopped; waiting up to {DRAIN_TIMEOUT_S:.0f} s for the worker to "
          f"catch up (Ctrl-C to skip)", flush=True)
    # one probe per stage, with the stage's group id, used only to read its committed
    # offsets (never joins)
    probes = {group: Consumer({"bootstrap.servers": settings.kafka_bootstrap,
                               "group.id": group, "enable.auto.commit": False})
              for group in consumer_groups(settings)}
    try:
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while True:
            keep_reading()
            lag = _worker_lag(probes, settings)
            if lag == 0:
                print("demo: the worker has processed everything", flush=True)
                return
            if time.monotonic() >= deadline:
                print(f"demo: the worker is still {lag} records behind; it resumes from "
                      f"there on its next start", flush=True)
                return
            time.sleep(0.5)
    finally:
        for probe in probes.values():
            probe.close()


def _worker_lag(probes: dict[str, Consumer], settings: Settings) -> int:
    """Records of the stages' input topics their groups have not yet committed past."""
    lag = 0
    for group, topics in consumer_groups(settings).items():
        probe = probes[group]
        meta = probe.list_topics(timeout=10).topics
        for name in topics:
            if name not in meta:
                continue
            parts = [TopicPartition(name, p) for p in meta[name].partitions]
            for tp in probe.committed(parts, timeout=10):
                low, high = probe.get_watermark_offsets(tp, timeout=10)
                lag += high - max(tp.offset, low)
    return lag


def _summary(engine, sim: Simulator, tape: Tape) -> None:
    with engine.connect() as conn:
        accounts = conn.execute(text(
            "SELECT account_id, cash, reserved_cash FROM accounts "
            "WHERE account_id = ANY(:t) ORDER BY account_id"), {"t": TRADERS}).all()
        held = conn.execute(text(
            "SELECT account_id, symbol, quantity, reserved_quantity FROM holdings "
            "WHERE account_id = ANY(:t) AND quantity + reserved_quantity > 0 "
            "ORDER BY symbol"), {"t": TRADERS}).all()
        last = dict(conn.execute(text(
            "SELECT symbol, coalesce(last_price, reference_price) FROM symbols "
            "WHERE symbol = ANY(:s)"), {"s": list(SYMBOLS)}).all())
    by_account: dict[str, list] = {}
    for account, symbol, qty, reserved in held:
        by_account.setdefault(account, []).append((symbol, qty, reserved))
    sent, n = sim.sent, tape.statuses
    rejected = ", ".join(f"{k} {v}" for k, v in tape.reasons.most_common()) or "none"
    lines = [
        f"---- portfolio at {time.strftime('%H:%M:%S')} "
        f"(sent {sent['LIMIT']} limit, {sent['MARKET']} market, {sent['CANCEL']} cancels)",
        f"  orders accepted {n[OrderStatus.ACCEPTED]}, rejected {n[OrderStatus.REJECTED]}, "
        f"filled {n[OrderStatus.FILLED]}, cancelled {n[OrderStatus.CANCELLED]}; "
        f"trades {tape.trades} worth {format_cents(tape.volume_cents)}",
        f"  refused: {rejected}",
        "  last: " + "  ".join(f"{s} {format_cents(p)}" for s, p in sorted(last.items())),
    ]
    for account, cash, reserved_cash in accounts:
        parts, value = [], cash + reserved_cash
        for symbol, qty, reserved in by_account.get(account, []):
            parts.append(f"{symbol} {qty:,}" + (f" (+{reserved:,} res)" if reserved else ""))
            value += (qty + reserved) * last.get(symbol, 0)
        lines.append(f"  {account:4} cash {format_cents(cash):>12}  reserved "
                     f"{format_cents(reserved_cash):>11}  " + "  ".join(parts)
                     + f"  value {format_cents(value)}")
    print("\n".join(lines), flush=True)
