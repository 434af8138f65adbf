"""Reads may go to a read-only replica URL (CQRS), writes never do; /health reports both
services. The "replica" here is the same database through a read-only session: any
write sent to it fails, so a 5xx or a missing row would show one."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from starlette.testclient import TestClient

from api import health
from ledger.db import make_async_engine, make_engine
from tests.integration.test_api_support import auth, error_code

READ_ONLY = "?application_name=ms-replica&options=-c%20default_transaction_read_only%3Don"


@pytest.fixture
def replica_api(platform, monkeypatch):
    env = platform.env()
    for name in ("KAFKA_BOOTSTRAP", "DATABASE_URL", "MATCHSTREAM_NAMESPACE"):
        monkeypatch.setenv(name, env[name])
    monkeypatch.setenv("DATABASE_READ_URL", env["DATABASE_URL"] + READ_ONLY)
    from api.app import create_app

    with TestClient(create_app()) as client:
        yield client


def test_reads_on_the_replica_writes_on_the_primary(platform, replica_api):
    p, api = platform, replica_api
    p.symbol("ACME", reference_price=10_000)
    p.account("alice", cash=1_000_000)
    alice, admin = auth(p, "alice"), auth(p, None)
    replica = make_engine(p.settings.database_url + READ_ONLY)
    try:  # the replica URL really refuses writes
        with pytest.raises(DBAPIError, match="read-only transaction"), replica.begin() as conn:
            conn.execute(text("INSERT INTO issued_orders (order_id, account_id) VALUES ('x', 'y')"))
    finally:
        replica.dispose()

    assert api.get("/health").json() == {"status": "ok", "kafka": "ok", "postgres": "ok"}
    # writes: an order with an idempotency key, its cancel, admin account/deposit/symbol
    body = {"symbol": "ACME", "side": "BUY", "quantity": 1, "price": 9_000}
    placed = api.post("/v1/orders", json=body, headers={**alice, "Idempotency-Key": "r1"})
    assert placed.status_code == 202, placed.text
    assert api.delete(f"/v1/orders/{placed.json()['order_id']}", headers=alice).status_code == 202
    made = api.post("/v1/admin/accounts", json={"account_id": "bob"}, headers=admin)
    assert made.status_code == 201, made.text
    deposit = api.post("/v1/admin/accounts/bob/adjustments", headers=admin,
                       json={"asset": "CASH", "amount": 500, "reference": "d1"})
    assert deposit.status_code == 200, deposit.text
    added = api.post("/v1/admin/symbols", headers=admin, json={
        "symbol": "BETA", "shares_outstanding": 1000, "reference_price": 100})
    assert added.status_code == 201, added.text
    assert p.scalar("SELECT count(*) FROM issued_orders") == 1
    assert p.scalar("SELECT count(*) FROM idempotency_keys") == 1
    assert p.scalar("SELECT cash FROM accounts WHERE account_id = 'bob'") == 500
    # reads, served by the replica connection
    for path in ("/v1/orders", "/v1/portfolio", "/v1/trades", "/v1/symbols",
                 "/v1/symbols/ACME/trades", "/v1/symbols/ACME/candles"):
        assert api.get(path, headers=alice).status_code == 200, path
    assert api.get("/v1/admin/symbols", headers=admin).status_code == 200
    assert "matchstream_consumer_lag_up" in api.get("/metrics").text
    assert p.scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                    "'ms-replica' AND datname = current_database()") >= 1
    missing = api.get("/v1/orders/nope", headers=alice)
    assert (missing.status_code, error_code(missing)) == (404, "NOT_FOUND")


async def test_health_names_what_is_unreachable(services):
    dead = dataclasses.replace(services, external_kafka="127.0.0.1:1")
    engine = make_async_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    try:
        answer = await health.HealthCheck(dead, engine).answer()
        assert answer["kafka"].startswith("unreachable")
        assert answer["postgres"] == "unreachable: OperationalError"
    finally:
        await engine.dispose()
