"""Order entry and queries through the API against Kafka, a worker and PostgreSQL."""

from __future__ import annotations

from tests.integration.test_api_support import api, auth, error_code  # noqa: F401
from tests.platform import wait_for


def test_validation_errors_need_no_worker(platform, api):  # noqa: F811
    platform.symbol("ACME", reference_price=10_000, tick_size=5)
    platform.account("alice", cash=100_000)
    alice = auth(platform, "alice")
    cases = [
        ({"symbol": "ACME", "side": "BUY", "quantity": 1, "price": 10_001}, 422, "OFF_TICK"),
        ({"symbol": "NOPE", "side": "BUY", "quantity": 1, "price": 100}, 422, "UNKNOWN_SYMBOL"),
        ({"symbol": "ACME", "side": "BUY", "quantity": 0, "price": 100}, 422, "BAD_QUANTITY"),
        ({"symbol": "ACME", "side": "BUY", "quantity": 1, "order_type": "MARKET",
          "price": 100}, 422, "BAD_PRICE"),
        ({"symbol": "ACME", "side": "HOLD", "quantity": 1, "price": 100}, 400, "MALFORMED"),
        ({"symbol": "ACME", "side": "BUY", "quantity": "1", "price": 100}, 400, "MALFORMED"),
        ({"symbol": "ACME", "side": "BUY", "quantity": 1, "price": 100.5}, 400, "MALFORMED"),
        ({"symbol": "ACME", "side": "BUY", "quantity": 1, "price": 2**70}, 400, "MALFORMED"),
    ]
    for body, status, code in cases:
        response = api.post("/v1/orders", json=body, headers=alice)
        assert (response.status_code, error_code(response)) == (status, code), body
    assert error_code(api.post("/v1/orders", content=b"{", headers=alice)) == "MALFORMED"
    no_token = api.post("/v1/orders", json=cases[0][0])
    assert (no_token.status_code, error_code(no_token)) == (401, "UNAUTHENTICATED")
    bad = api.get("/v1/orders", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    admin = api.get("/v1/portfolio", headers=auth(platform, None))
    assert (admin.status_code, error_code(admin)) == (403, "ACCOUNT_TOKEN_REQUIRED")
    assert api.get("/v1/orders?status=WHATEVER", headers=alice).status_code == 400
    assert error_code(api.get("/v1/orders?cursor=%%%", headers=alice)) == "BAD_CURSOR"
    assert api.get("/nowhere").json()["error"]["code"] == "NOT_FOUND"
    metrics = api.get("/metrics").text
    assert 'matchstream_api_rejections_total{reason="OFF_TICK"} 1.0' in metrics
    assert "matchstream_api_request_seconds_bucket" in metrics
    assert platform.scalar("SELECT count(*) FROM idempotency_keys") == 0


def test_order_lifecycle_portfolio_and_idempotency(platform, api):  # noqa: F811
    p = platform
    p.symbol("ACME", reference_price=10_000)
    p.account("alice", cash=1_000_000)          # $10,000.00
    p.account("bob", ACME=100)
    alice, bob = auth(p, "alice"), auth(p, "bob")
    worker = p.start_worker()

    # bob offers 30 @ 100.00 and 20 @ 102.00 (client ids), alice buys 40 up to 103.00
    for oid, qty, price in (("b1", 30, 10_000), ("b2", 20, 10_200)):
        r = api.post("/v1/orders", json={"order_id": oid, "symbol": "ACME", "side": "SELL",
                                         "quantity": qty, "price": price}, headers=bob)
        assert r.status_code == 202 and r.json()["order_id"] == oid, r.text
    wait_for(lambda: p.scalar("SELECT count(*) FROM orders WHERE account_id='bob'") == 2, 90,
             "bob's orders accepted", [worker.log_path])
    body = {"symbol": "ACME", "side": "BUY", "quantity": 40, "price": 10_300}
    first = api.post("/v1/orders", json=body, headers={**alice, "Idempotency-Key": "k1"})
    assert first.status_code == 202, first.text
    buy = first.json()["order_id"]
    assert len(buy) == 32 and first.json()["replayed"] is False
    # a retry with the same key and body: the same id, no second order
    again = api.post("/v1/orders", json=body, headers={**alice, "Idempotency-Key": "k1"})
    assert again.status_code == 202 and again.json() == {**first.json(), "replayed": True}
    other = api.post("/v1/orders", json={**body, "quantity": 41},
                     headers={**alice, "Idempotency-Key": "k1"})
    assert (other.status_code, error_code(other)) == (409, "IDEMPOTENCY_KEY_REUSED")
    wait_for(lambda: p.scalar("SELECT status FROM orders WHERE order_id=:o", o=buy) == "FILLED",
             90, "alice's buy filled", [worker.log_path])
    assert p.scalar("SELECT count(*) FROM orders WHERE account_id='alice'") == 1

    # orders, filters, pagination
    mine = api.get("/v1/orders", headers=bob).json()
    assert [o["order_id"] for o in mine["items"]] == ["b2", "b1"] and mine["next_cursor"] is None
    page1 = api.get("/v1/orders?limit=1", headers=bob).json()
    assert [o["order_id"] for o in page1["items"]] == ["b2"] and page1["next_cursor"]
    page2 = api.get(f"/v1/orders?limit=1&cursor={page1['next_cursor']}", headers=bob).json()
    assert [o["order_id"] for o in page2["items"]] == ["b1"] and page2["next_cursor"] is None
    open_ = api.get("/v1/orders?status=OPEN&symbol=ACME", headers=bob).json()["items"]
    assert [(o["order_id"], o["status"], o["remaining_quantity"]) for o in open_] == [
        ("b2", "PARTIALLY_FILLED", 10)]
    assert api.get("/v1/orders?status=FILLED&symbol=ZZZ", headers=bob).json()["items"] == []
    detail = api.get(f"/v1/orders/{buy}", headers=alice).json()
    assert detail["status"] == "FILLED" and detail["filled_quantity"] == 40
    assert [(f["price"], f["quantity"], f["liquidity"]) for f in detail["fills"]] == [
        ({"cents": 10_000, "amount": "100.00"}, 30, "TAKER"),
        ({"cents": 10_200, "amount": "102.00"}, 10, "TAKER")]

    # portfolio: 40 ACME for 4,020.00 -> average 100.50, valued at the last price 102.00
    folio = api.get("/v1/portfolio", headers=alice).json()
    assert folio["cash"] == {"cents": 598_000, "amount": "5980.00"}
    assert folio["reserved_cash"]["cents"] == 0
    assert folio["holdings"] == [{
        "symbol": "ACME", "quantity": 40, "reserved_quantity": 0,
        "average_cost": {"cents": 10_050, "amount": "100.50"},
        "cost_basis": {"cents": 402_000, "amount": "4020.00"},
        "last_price": {"cents": 10_200, "amount": "102.00"},
        "market_value": {"cents": 408_000, "amount": "4080.00"},
        "unrealised_pnl": {"cents": 6_000, "amount": "60.00"}}]
    trades = api.get("/v1/trades", headers=bob).json()["items"]
    assert sorted((t["side"], t["order_id"], t["quantity"], t["liquidity"]) for t in trades) == [
        ("SELL", "b1", 30, "MAKER"), ("SELL", "b2", 10, "MAKER")]
    assert "buyer" not in trades[0] and "seller" not in trades[0]
    public = api.get("/v1/symbols/ACME/trades", headers=alice).json()["items"]
    assert [t["seq"] for t in public] == sorted((t["seq"] for t in public), reverse=True)
    assert len(public) == 2 and "buyer" not in public[0]
    symbols = api.get("/v1/symbols", headers=alice).json()["items"]
    assert symbols[0]["symbol"] == "ACME" and symbols[0]["last_price"]["cents"] == 10_200
    candles = api.get("/v1/symbols/ACME/candles?interval=1m&from=0&to=99", headers=alice)
    assert candles.status_code == 200 and candles.json()["items"] == []

    # cancel bob's resting remainder; a second cancel of a closed order is a conflict
    assert api.delete("/v1/orders/b2", headers=bob).status_code == 202
    wait_for(lambda: p.scalar("SELECT status FROM orders WHERE order_id='b2'") == "CANCELLED",
             90, "b2 cancelled", [worker.log_path])
    assert error_code(api.delete("/v1/orders/b2", headers=bob)) == "ORDER_NOT_OPEN"
    assert error_code(api.delete("/v1/orders/missing", headers=bob)) == "NOT_FOUND"
    metrics = api.get("/metrics").text
    assert 'matchstream_api_orders_total{outcome="replayed"}' in metrics
    p.assert_reconciled()
