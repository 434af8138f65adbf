"""The stages' psycopg connection (ledger/pg.py) on the real PostgreSQL: round trips per
batch, its name in pg_stat_activity, a new connection once one breaks, and which unique
violations make a batch run again."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile

import psycopg
import pytest
from psycopg import pq

from ledger import settlement
from ledger.arrays import int8s, texts
from ledger.faults import RetryBatch, world_fault
from ledger.pg import Conn, Database, atomically, conninfo
from ledger.retry import transaction
from ledger.settlement import Settled, apply_halts, settle
from schemas.codec import encode
from schemas.records import Halt, NewOrderRequest, OrderEvent, Trade
from streams.gate_logic import RawRecord, process_batch
from tests.faults import Waits

TOPIC = "order-requests"


@contextlib.contextmanager
def round_trips(conn: Conn):
    """Counts the times the client waits for the server, from libpq's trace of the
    messages it sends: psycopg asks for what it waits for with a Sync or a Flush (at the
    end of a pipeline, a Sync then a Flush: one wait). Appended to the list yielded,
    once the block ends."""
    counted: list[int] = []
    with tempfile.TemporaryFile("w+") as trace:
        conn.pgconn.trace(trace.fileno())
        conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        try:
            yield counted
        finally:
            conn.pgconn.untrace()
        trace.seek(0)
        sent = [line.split("\t")[2].strip() for line in trace if line.startswith("F\t")]
    asks = [kind in ("Sync", "Flush") for kind in sent]
    counted.append(sum(1 for i, ask in enumerate(asks) if ask and not (i and asks[i - 1])))


def _request(order_id: str, account: str, side: str, quantity: int, offset: int) -> RawRecord:
    return RawRecord(account.encode(), encode(NewOrderRequest(
        order_id=order_id, account=account, symbol="ACME", side=side, quantity=quantity,
        price=10_000)), partition=0, offset=offset)


def _trade(seq: int, quantity: int) -> Trade:
    return Trade(trade_id=f"ACME-{seq}", symbol="ACME", seq=seq, price=10_000,
                 quantity=quantity, buy_order_id="b1", sell_order_id="s1", buyer="bob",
                 seller="alice", maker_order_id="s1", aggressor="BUY", ts=seq)


async def _counted(db: Database, work) -> tuple[object, int]:
    async with db.connection() as conn:
        with round_trips(conn) as counted:
            result = await atomically(conn, work)
    return result, counted[0]


def test_every_batch_takes_two_round_trips(platform):
    """The gate's reads go out together, then its writes with the COMMIT; settlement's
    inserts and locks (a batch under OVERLAP_FROM trades), then its writes with the
    COMMIT; halts are writes alone."""
    p = platform
    p.symbol("ACME", reference_price=10_000)
    p.account("alice", ACME=1_000)
    p.account("bob", cash=100_000_000)
    one = [_request("b1", "bob", "BUY", 20, 1)]
    many = [_request(f"x{i}", "alice" if i % 2 else "bob", "SELL" if i % 2 else "BUY", 1,
                     10 + i) for i in range(300)]
    trades = [_trade(1, 5), _trade(2, 5)]
    for t in trades:  # reconcile finds them on the topic
        p.send("trades", b"ACME", t)
    p.flush()

    async def run():
        db = Database(p.settings.database_url)
        try:
            out, gate_one = await _counted(db, lambda c: process_batch(c, TOPIC, one, 1))
            assert out.accepted == 1
            out, gate_many = await _counted(db, lambda c: process_batch(c, TOPIC, many, 2))
            assert out.accepted == 300
            await _counted(db, lambda c: process_batch(c, TOPIC, [_request(
                "s1", "alice", "SELL", 20, 5)], 3))
            settled, settling = await _counted(db, lambda c: settle(c, trades[:1]))
            assert settled == Settled(trades=1, released=0)
            settled, both = await _counted(db, lambda c: settle(c, trades, [
                OrderEvent(order_id="b1", account="bob", symbol="ACME", status="CANCELLED",
                           ts=4, remaining_quantity=10, seq=3)]))
            assert settled == Settled(trades=1, released=1)  # the first trade was settled
            _, halting = await _counted(db, lambda c: apply_halts(c, [
                Halt(symbol="ACME", halted=True, ts=5, until_ts=9)]))
            return gate_one, gate_many, settling, both, halting
        finally:
            await db.close()

    assert asyncio.run(run()) == (2, 2, 2, 2, 1)
    assert p.rows("SELECT filled_quantity, cancelled_quantity, status FROM orders "
                  "WHERE order_id IN ('b1', 's1') ORDER BY order_id") == [
        (10, 10, "CANCELLED"), (10, 0, "PARTIALLY_FILLED")]
    assert p.scalar("SELECT halted_until_ms FROM symbols WHERE symbol = 'ACME'") == 9
    p.assert_reconciled(wait=0)


def test_a_large_batch_applies_only_its_new_trades_while_the_server_inserts(
        platform, monkeypatch):
    """From OVERLAP_FROM trades the insert goes out once the locks are read (three round
    trips) and the batch is applied meanwhile as if every trade were new; a replayed trade
    that overfills both orders then is left out and the batch applied again."""
    monkeypatch.setattr(settlement, "OVERLAP_FROM", 2)
    p = platform
    p.symbol("ACME", reference_price=10_000)
    p.account("alice", ACME=1_000)
    p.account("bob", cash=100_000_000)
    first, second = _trade(1, 15), _trade(2, 5)
    for t in (first, second):  # reconcile finds them on the topic
        p.send("trades", b"ACME", t)
    p.flush()

    async def run():
        db = Database(p.settings.database_url)
        try:
            await _counted(db, lambda c: process_batch(c, TOPIC, [
                _request("b1", "bob", "BUY", 20, 1), _request("s1", "alice", "SELL", 20, 2)], 1))
            alone = await _counted(db, lambda c: settle(c, [first]))
            again = await _counted(db, lambda c: settle(c, [first, second]))
            replayed = await _counted(db, lambda c: settle(c, [second, first]))
            return alone, again, replayed
        finally:
            await db.close()

    assert asyncio.run(run()) == ((Settled(1, 0), 2), (Settled(1, 0), 3), (Settled(0, 0), 3))
    assert p.rows("SELECT order_id, filled_quantity, reserved_cash, reserved_quantity, status "
                  "FROM orders ORDER BY order_id") == [
        ("b1", 20, 0, 0, "FILLED"), ("s1", 20, 0, 0, "FILLED")]
    assert p.rows("SELECT account_id, cash, reserved_cash FROM accounts ORDER BY 1") == [
        ("alice", 200_000, 0), ("bob", 100_000_000 - 200_000, 0)]
    p.assert_reconciled(wait=0)


def test_large_array_parameters_arrive_as_sent(platform):
    """ledger/arrays.py packs bigint[] and text[] itself: NULLs, empty arrays and strings
    that need quoting in the text form arrive unchanged, packed ahead or when sent."""
    p = platform
    ints = [0, -1, 1, 2**63 - 1, -2**63]
    strs = ["", "a", 'q"{,}\\', "é€", "x" * 300]

    async def run():
        async with await Conn.connect(conninfo(p.settings.database_url)) as conn:
            out = []
            for values in (ints, [None, 5, None], [None], []):
                for arg in (int8s(values), int8s(values).pack()):
                    out.append(await (await conn.execute(
                        "SELECT %b::bigint[]", (arg,))).fetchone() == (values,))
            for values in (strs, [None, "b", None], [None], []):
                for arg in (texts(values), texts(values).pack()):
                    out.append(await (await conn.execute(
                        "SELECT %b::text[]", (arg,))).fetchone() == (values,))
            return out

    assert all(asyncio.run(run()))


def test_the_connection_is_named_and_made_again_once_it_breaks(platform):
    p = platform
    name = "matchstream-test 4242"

    async def run():
        db = Database(p.settings.database_url, application_name=name)
        waits = Waits()
        try:
            first = await transaction(db, _backend_pid, waits)
            assert p.scalar("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid "
                            "AND application_name = :name", pid=first, name=name) == 1
            p.scalar("SELECT pg_terminate_backend(:pid)", pid=first)
            second = await transaction(db, _backend_pid, waits)
            return first, second, waits.reasons
        finally:
            await db.close()

    first, second, reasons = asyncio.run(run())
    assert second != first
    assert reasons == ["unreachable"]  # one failed try on the dead connection, then a new one


async def _backend_pid(conn: Conn) -> int:
    return (await (await conn.execute("SELECT pg_backend_pid()")).fetchone())[0]


def test_only_an_arbiter_key_makes_the_batch_run_again(platform):
    """orders_pkey: another gate recorded the order (RetryBatch, a conflict); any other
    error is the statement's own, raised as it is, and the connection stays usable."""
    p = platform
    p.symbol("ACME", reference_price=10_000)
    p.account("bob", cash=1_000_000)
    insert = ("INSERT INTO orders (order_id, account_id, symbol, side, order_type, tif, "
              "quantity, price, status) VALUES ('o1', 'bob', 'ACME', 'BUY', 'LIMIT', 'GTC', "
              "1, 10000, 'ACCEPTED')")

    async def run():
        db = Database(p.settings.database_url)
        errors = []
        try:
            async with db.connection() as conn:
                await atomically(conn, lambda c: c.execute(insert))
                for sql in (insert, "INSERT INTO accounts (account_id) VALUES ('bob')",
                            "UPDATE accounts SET cash = -1"):
                    with pytest.raises(Exception) as caught:
                        # a statement after the failing one: the failing one is reported
                        await atomically(conn, lambda c, sql=sql: _then_select(c, sql))
                    errors.append(caught.value)
                    assert conn.info.transaction_status == pq.TransactionStatus.IDLE
        finally:
            await db.close()
        return errors

    arbiter, other_key, check = asyncio.run(run())
    assert isinstance(arbiter, RetryBatch) and world_fault(arbiter) == "conflict"
    assert isinstance(other_key, psycopg.errors.UniqueViolation)
    assert isinstance(check, psycopg.errors.CheckViolation)
    assert world_fault(other_key) is None and world_fault(check) is None  # a record's, maybe
    assert p.scalar("SELECT cash FROM accounts WHERE account_id = 'bob'") == 1_000_000


async def _then_select(conn: Conn, sql: str) -> None:
    await conn.execute(sql)
    await conn.execute("SELECT 1")


def test_settlement_never_holds_a_later_account_while_it_waits_for_an_earlier_one(platform):
    """A batch's trades (bob, cat) and a release of amy's order lock their accounts in one
    sorted pass. Had the release locked amy after the trades' accounts, settlement would
    hold bob while waiting for amy, and a gate locking amy then bob would deadlock with
    it (PostgreSQL breaks a deadlock after 1 s: a stall of both stages)."""
    p = platform
    p.symbol("ACME", reference_price=10_000)
    p.account("amy", cash=1_000_000)
    p.account("bob", cash=1_000_000)
    p.account("cat", ACME=100)
    trade = Trade(trade_id="ACME-1", symbol="ACME", seq=1, price=10_000, quantity=5,
                  buy_order_id="b1", sell_order_id="s1", buyer="bob", seller="cat",
                  maker_order_id="s1", aggressor="BUY", ts=1)
    cancel = OrderEvent(order_id="a1", account="amy", symbol="ACME", status="CANCELLED",
                        ts=2, remaining_quantity=10, seq=2)
    lock = "SELECT 1 FROM accounts WHERE account_id = %s FOR UPDATE"

    async def run():
        db = Database(p.settings.database_url)
        try:
            async with db.connection() as conn:
                await atomically(conn, lambda c: process_batch(c, TOPIC, [
                    _request("a1", "amy", "BUY", 10, 1), _request("b1", "bob", "BUY", 5, 2),
                    _request("s1", "cat", "SELL", 5, 3)], 1))
            async with await psycopg.AsyncConnection.connect(
                    p.settings.database_url.replace("+psycopg", "")) as holder, \
                    await psycopg.AsyncConnection.connect(
                        p.settings.database_url.replace("+psycopg", ""),
                        autocommit=True) as probe:
                await holder.execute(lock, ("amy",))  # a gate holding amy
                settling = asyncio.create_task(transaction(
                    db, lambda c: settle(c, [trade], [cancel]), Waits()))
                while not (await (await probe.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND query LIKE %s", ("%FROM accounts%",))).fetchone())[0]:
                    await asyncio.sleep(0.05)
                async with probe.transaction():  # ...and then wanting bob: free
                    await probe.execute(lock + " NOWAIT", ("bob",))
                await holder.rollback()
                return await asyncio.wait_for(settling, 30)
        finally:
            await db.close()

    assert asyncio.run(run()) == Settled(trades=1, released=1)
    assert p.rows("SELECT account_id, reserved_cash FROM accounts ORDER BY account_id") == [
        ("amy", 0), ("bob", 0), ("cat", 0)]


def test_the_holding_counts_open_buys_and_settlement_updates_orders_in_place(platform):
    """The position limit's open buys are the holding's open_buy_quantity: the gate adds
    each accepted buy (making the holding with the first), settlement takes off each fill
    and each released remainder. No index names an order's status, so settlement's orders
    update is HOT (ledger/tables.py, migration 0013)."""
    p = platform
    p.symbol("ACME", reference_price=10_000, shares_outstanding=1_000)  # 5%: 50 shares
    p.account("alice", ACME=100)
    p.account("bob", cash=100_000_000)
    open_buys = "SELECT open_buy_quantity FROM holdings WHERE account_id = 'bob'"

    async def run():
        db = Database(p.settings.database_url)
        try:
            async with db.connection() as conn:
                out = await atomically(conn, lambda c: process_batch(c, TOPIC, [
                    _request("b1", "bob", "BUY", 30, 1), _request("b2", "bob", "BUY", 20, 2),
                    _request("b3", "bob", "BUY", 1, 3), _request("s1", "alice", "SELL", 40, 4)],
                    1))
                assert (out.accepted, out.rejected) == (3, {"POSITION_LIMIT": 1})
                assert p.scalar(open_buys) == 50

                async def settle_and_count(c: Conn):
                    settled = await settle(c, [_trade(1, 25)], [OrderEvent(
                        order_id="b2", account="bob", symbol="ACME", status="CANCELLED", ts=2,
                        remaining_quantity=20, seq=2)])
                    cur = await c.execute("SELECT n_tup_upd, n_tup_hot_upd "
                                          "FROM pg_stat_xact_user_tables WHERE relname = 'orders'")
                    return settled, await cur.fetchone()
                settled, (updated, hot) = await atomically(conn, settle_and_count)
                assert settled == Settled(trades=1, released=1)
                assert (updated, hot) == (3, 3)
                # 25 held and 5 still open: 20 more may be bought, not 21
                out = await atomically(conn, lambda c: process_batch(c, TOPIC, [
                    _request("b4", "bob", "BUY", 21, 5), _request("b5", "bob", "BUY", 20, 6)], 2))
                assert (out.accepted, out.rejected) == (1, {"POSITION_LIMIT": 1})
        finally:
            await db.close()

    asyncio.run(run())
    assert p.scalar(open_buys) == 25
    p.send("trades", b"ACME", _trade(1, 25))
    p.flush()
    p.assert_reconciled(wait=0)


def test_a_stage_looks_rows_up_by_key_after_planning_on_an_empty_table(platform):
    """The gate's order look-up, planned (and prepared) while `orders` was empty and
    analyzed, as at the start of a day, still probes the key once the table has grown;
    a whole-table scan per batch stalled the gate ~1 s a batch after 30 s at 1,000/s. And
    no statement is JIT-compiled: the spec read, priced with its scan disabled, was (150 ms)."""
    from ledger.gate_store import find_orders
    from ledger.specs import SELECT_SPECS

    p = platform
    p.symbol("ACME", reference_price=10_000)
    p.account("bob", cash=1_000_000)
    url = p.settings.database_url.replace("+psycopg", "")
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("ANALYZE orders")

    async def scans_of_orders(conn: Conn) -> int:
        async def work(c: Conn) -> int:
            await (await find_orders(c, {"o7"})).result()
            cur = await c.execute("SELECT seq_scan FROM pg_stat_xact_user_tables "
                                  "WHERE relname = 'orders'")
            return (await cur.fetchone())[0]
        return await atomically(conn, work)

    async def run():
        db = Database(p.settings.database_url)
        async with db.connection() as conn:
            for _ in range(15):  # prepared after 5 runs, a generic plan after 5 more
                await scans_of_orders(conn)
            with psycopg.connect(url, autocommit=True) as admin:
                admin.execute(
                    "INSERT INTO orders (order_id, account_id, symbol, side, order_type, tif, "
                    "quantity, price, status, created_ms) SELECT 'o' || i, 'bob', 'ACME', "
                    "'BUY', 'LIMIT', 'GTC', 1, 10000, 'FILLED', i "
                    "FROM generate_series(1, 20000) AS i")
            scans = await scans_of_orders(conn)
            specs = await conn.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + SELECT_SPECS)
            plan = (await specs.fetchone())[0][0]
        await db.close()
        return scans, plan

    scans, plan = asyncio.run(run())
    assert scans == 0
    assert "JIT" not in plan


def test_a_database_urls_own_options_are_kept_with_the_stages_plan_settings(platform):
    """An operator's `options` in DATABASE_URL (a statement timeout, a search path) still
    apply on the stage's connection, next to its keyed-access settings."""
    url = platform.settings.database_url
    url += ("&" if "?" in url else "?") + "options=-c%20statement_timeout%3D4321"

    async def run():
        db = Database(url)
        async with db.connection() as conn:
            cur = await conn.execute("SELECT current_setting('statement_timeout'), "
                                     "current_setting('jit'), current_setting('enable_seqscan')")
            settings = await cur.fetchone()
        await db.close()
        return settings

    assert asyncio.run(run()) == ("4321ms", "off", "off")
