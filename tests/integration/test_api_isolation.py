"""No endpoint lets one account read or change another's data: every one is tried with
another account's ids (the ledger rows are written directly: no worker is needed)."""

from __future__ import annotations

from sqlalchemy import text

from tests.integration.test_api_support import api, auth, error_code  # noqa: F401

ORDERS = [("a1", "alice", "BUY", "ACCEPTED"), ("a2", "alice", "BUY", "FILLED"),
          ("b1", "bob", "SELL", "PARTIALLY_FILLED"), ("c1", "carol", "SELL", "FILLED")]
TRADES = [("ACME-1", 1, "a2", "c1", "alice", "carol"), ("ACME-2", 2, "a1", "b1", "alice", "bob")]


def _seed(p) -> None:
    p.symbol("ACME", reference_price=10_000)
    p.account("alice", cash=500_000)
    p.account("bob", cash=7_00, ACME=50)
    p.account("carol", ACME=50)
    p.symbol("BOLT", reference_price=5_000)
    with p.db.begin() as conn:
        # a holding with no shares, only open buys counted: not a position to list
        conn.execute(text("INSERT INTO holdings (account_id, symbol, open_buy_quantity) "
                          "VALUES ('bob', 'BOLT', 10)"))
        for oid, acct, side, status in ORDERS:
            conn.execute(text(
                "INSERT INTO orders (order_id, account_id, symbol, side, order_type, tif, "
                "quantity, price, status) VALUES (:o, :a, 'ACME', :s, 'LIMIT', 'GTC', 10, "
                "10000, :st)"), {"o": oid, "a": acct, "s": side, "st": status})
        for tid, seq, buy, sell, buyer, seller in TRADES:
            conn.execute(text(
                "INSERT INTO trades (trade_id, symbol, seq, price, quantity, buy_order_id, "
                "sell_order_id, buyer, seller, aggressor, executed_ms) VALUES (:t, 'ACME', :q, "
                "10000, 5, :b, :s, :bu, :se, 'BUY', :q)"),
                {"t": tid, "q": seq, "b": buy, "s": sell, "bu": buyer, "se": seller})


def test_no_endpoint_reaches_another_accounts_data(platform, api):  # noqa: F811
    p = platform
    _seed(p)
    bob, alice = auth(p, "bob"), auth(p, "alice")

    # reading or cancelling someone else's order: 404, exactly as for a missing one
    for oid in ("a1", "a2", "c1"):
        for response in (api.get(f"/v1/orders/{oid}", headers=bob),
                         api.delete(f"/v1/orders/{oid}", headers=bob)):
            assert (response.status_code, error_code(response)) == (404, "NOT_FOUND"), oid
    assert api.get("/v1/orders/b1", headers=bob).status_code == 200
    # an id the API issued to alice that the gate has not recorded yet: still not bob's
    with p.db.begin() as conn:
        conn.execute(text("INSERT INTO issued_orders (order_id, account_id) "
                          "VALUES ('a-pending', 'alice')"))
    stolen = api.delete("/v1/orders/a-pending", headers=bob)
    assert (stolen.status_code, error_code(stolen)) == (404, "NOT_FOUND")
    # bob's own order, traded with alice: its fill only, never alice's order or account
    fills = api.get("/v1/orders/b1", headers=bob).json()["fills"]
    assert [f["trade_id"] for f in fills] == ["ACME-2"] and "buyer" not in fills[0]
    # lists only ever hold the caller's rows, whatever the filters or cursor
    for query in ("", "?symbol=ACME", "?status=FILLED", "?status=OPEN", "?limit=500"):
        items = api.get(f"/v1/orders{query}", headers=bob).json()["items"]
        assert {o["order_id"] for o in items} <= {"b1"}, query
    assert [o["order_id"] for o in api.get("/v1/orders", headers=alice).json()["items"]] == [
        "a2", "a1"]
    mine = api.get("/v1/trades", headers=bob).json()["items"]
    assert [(t["trade_id"], t["side"], t["order_id"]) for t in mine] == [("ACME-2", "SELL", "b1")]
    assert all("buyer" not in t and "seller" not in t for t in mine)
    # a forged cursor pointing into alice's rows still filters by the caller
    from api.common import encode_cursor

    forged = encode_cursor(10**12, "zzzz")
    assert {o["order_id"] for o in api.get(f"/v1/orders?cursor={forged}",
                                           headers=bob).json()["items"]} <= {"b1"}
    assert {t["trade_id"] for t in api.get(f"/v1/trades?cursor={forged}",
                                           headers=bob).json()["items"]} <= {"ACME-2"}
    folio = api.get("/v1/portfolio", headers=bob).json()
    assert folio["account_id"] == "bob" and folio["cash"]["cents"] == 700
    assert [h["symbol"] for h in folio["holdings"]] == ["ACME"]
    # an order for someone else: there is no account field to set
    forged_order = api.post("/v1/orders", headers=bob, json={
        "account": "alice", "symbol": "ACME", "side": "BUY", "quantity": 1, "price": 100})
    assert (forged_order.status_code, error_code(forged_order)) == (400, "MALFORMED")
    # market data is public and carries no accounts or order ids
    public = api.get("/v1/symbols/ACME/trades", headers=bob).json()["items"]
    assert all(set(t) == {"trade_id", "seq", "price", "quantity", "aggressor", "executed_ms"}
               for t in public)
    # the admin endpoints refuse an account's token
    admin_calls = [("post", "/v1/admin/accounts", {"account_id": "mallory"}),
                   ("post", "/v1/admin/accounts/alice/adjustments",
                    {"asset": "CASH", "amount": -500_000, "reference": "steal"}),
                   ("post", "/v1/admin/accounts/bob/adjustments",
                    {"asset": "CASH", "amount": 10**9, "reference": "mint"}),
                   ("post", "/v1/admin/symbols",
                    {"symbol": "EVIL", "shares_outstanding": 1, "reference_price": 1}),
                   ("get", "/v1/admin/symbols", None)]
    for method, path, body in admin_calls:
        kwargs = {"json": body} if body is not None else {}
        response = getattr(api, method)(path, headers=bob, **kwargs)
        assert (response.status_code, error_code(response)) == (403, "ADMIN_REQUIRED"), path
    # and nothing changed: balances, orders, accounts, symbols
    assert p.scalar("SELECT cash FROM accounts WHERE account_id='alice'") == 500_000
    assert p.scalar("SELECT cash FROM accounts WHERE account_id='bob'") == 700
    assert p.scalar("SELECT count(*) FROM accounts") == 3
    assert p.scalar("SELECT count(*) FROM symbols") == 2
    assert p.scalar("SELECT count(*) FROM adjustments WHERE reference LIKE 'api:%'") == 0
    assert 'matchstream_api_cancels_total 0.0' in api.get("/metrics").text or \
        p.scalar("SELECT count(*) FROM orders WHERE status='CANCELLED'") == 0
    # no token at all: 401 everywhere but /metrics and /openapi.json
    for path in ("/v1/orders", "/v1/orders/a1", "/v1/portfolio", "/v1/trades", "/v1/symbols",
                 "/v1/symbols/ACME/trades", "/v1/symbols/ACME/candles", "/v1/admin/symbols"):
        assert api.get(path).status_code == 401, path
