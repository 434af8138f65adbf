"""A symbol's home partition of `orders` (invariant 9): stored when it is made, given to
existing symbols by migration 0014 where their key has landed so far, and where the gate
produces its commands, whatever its key's hash says."""

from __future__ import annotations

import uuid

from alembic import command
from sqlalchemy import text

from infra import postgres
from infra.kafka_client import partition_for
from ledger.db import make_engine
from ledger.migrate import alembic_config, upgrade
from tests.integration.test_bad_input import Feed, cash, trade_pair
from tests.replay import read_partitions


def test_a_new_symbol_gets_where_its_key_lands_among_the_orders_partitions(platform):
    p = platform
    assert p.orders_partitions == 4
    for symbol in ("ACME", "BOLT", "CRUX", "DYNE", "ECHO"):
        p.symbol(symbol)
        assert p.scalar("SELECT home_partition FROM symbols WHERE symbol = :s", s=symbol) \
            == partition_for(symbol.encode(), 4)


def test_the_gate_produces_to_the_home_partition_not_by_key(platform):
    p = platform
    p.symbol("ACME", reference_price=10_000)
    by_key = partition_for(b"ACME", p.orders_partitions)
    home = (by_key + 1) % p.orders_partitions
    with p.db.begin() as conn:  # as if made when `orders` had another partition count
        conn.execute(text("UPDATE symbols SET home_partition = :h WHERE symbol = 'ACME'"),
                     {"h": home})
    p.account("alice", cash=0, ACME=100)
    p.account("bob", cash=10_000_000)
    worker = p.start_worker()
    feed = Feed(p, [worker.log_path])
    trade_pair(p, feed, "first")
    orders = read_partitions(p.settings.kafka_bootstrap, p.topic("orders"))
    assert {partition for partition, records in orders.items() if records} == {home}
    assert cash(p, "alice") == (100_000, 0)
    p.assert_reconciled()


def test_the_migration_gives_existing_symbols_the_partition_their_key_landed_on(services):
    name = f"db_home_{uuid.uuid4().hex[:8]}"
    url = postgres.create_database(services, name)
    command.upgrade(alembic_config(url), "0013")
    engine = make_engine(url)
    symbols = ["ACME", "BOLT", "CRUX", "DYNE", "ECHO", "B.RK"]
    try:
        with engine.begin() as conn:
            for symbol in symbols:
                conn.execute(text("INSERT INTO symbols (symbol, shares_outstanding, "
                                  "reference_price) VALUES (:s, 1000, 100)"), {"s": symbol})
        upgrade(url)
        with engine.connect() as conn:
            homes = dict(conn.execute(text("SELECT symbol, home_partition FROM symbols")).all())
        assert homes == {s: partition_for(s.encode(), 4) for s in symbols}
        assert len(set(homes.values())) > 1  # the hash spreads them: a check that can fail
    finally:
        engine.dispose()
