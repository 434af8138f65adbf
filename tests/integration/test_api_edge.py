"""The API's public edge under abuse: /metrics label sets stay bounded whatever methods
clients invent, and a burst of /health calls makes one check, not a client each."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

from prometheus_client.parser import text_string_to_metric_families

from tests.integration.test_api_support import api  # noqa: F401


def _latency_methods(api) -> set[str]:  # noqa: F811
    families = {f.name: f for f in text_string_to_metric_families(api.get("/metrics").text)}
    return {s.labels["method"] for s in families["matchstream_api_request_seconds"].samples}


def test_made_up_methods_are_counted_as_other(api):  # noqa: F811
    for i in range(300):
        api.request(f"BREW{i}", "/v1/orders")
        api.request(f"BREW{i}", f"/made/up/path/{i}")
    methods = _latency_methods(api)
    assert "OTHER" in methods
    assert methods <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER"}


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


def test_a_burst_of_health_calls_makes_one_check_and_no_threads(api):  # noqa: F811
    assert api.get("/health").json()["status"] == "ok"
    before, checks = _threads(), api.app.state.health.checks
    callers = 10
    with ThreadPoolExecutor(callers) as pool:
        answers = list(pool.map(lambda _: api.get("/health").status_code, range(300)))
    assert answers == [200] * 300
    # a check per second at most, however many callers (the burst takes about a second)
    assert api.app.state.health.checks - checks <= 3
    # a thread per call would be hundreds; pools started lazily (the loop's executor, the
    # test client's portal) grow with the callers at once, not with the calls: a busy
    # machine has seen 4 more threads
    assert _threads() <= before + callers


def test_an_order_id_outside_the_charset_is_refused_before_anything_is_stored(platform, api):  # noqa: F811
    """A printable id the Location header cannot carry (`订单1`) was committed and sent to
    Kafka, then answered 500, and 500 again on every retry."""
    from tests.integration.test_api_support import auth, error_code

    p = platform
    p.symbol("ACME", reference_price=10_000)
    p.account("alice", cash=1_000_000)
    alice = {**auth(p, "alice"), "Idempotency-Key": "k-unicode"}
    for _ in range(2):
        refused = api.post("/v1/orders", headers=alice, json={
            "symbol": "ACME", "side": "BUY", "quantity": 1, "price": 9_000,
            "order_id": "订单1"})
        assert refused.status_code == 400 and error_code(refused) == "MALFORMED"
    assert p.scalar("SELECT count(*) FROM issued_orders") == 0
    assert p.scalar("SELECT count(*) FROM idempotency_keys") == 0
    placed = api.post("/v1/orders", headers=alice, json={
        "symbol": "ACME", "side": "BUY", "quantity": 1, "price": 9_000,
        "order_id": "client:A-1.b_2"})
    assert placed.status_code == 202 and placed.headers["Location"] == \
        "/v1/orders/client%3AA-1.b_2"


def test_a_body_over_64_kib_is_refused_with_413(platform, api):  # noqa: F811
    from tests.integration.test_api_support import auth, error_code

    p = platform
    p.symbol("ACME", reference_price=10_000)
    p.account("alice", cash=1_000_000)
    headers = {**auth(p, "alice"), "Content-Type": "application/json"}
    body = b'{"symbol": "ACME", "side": "BUY", "quantity": 1, "price": 9000, "pad": "' + \
        b"x" * (65 * 1024) + b'"}'
    declared = api.post("/v1/orders", headers=headers, content=body)
    assert (declared.status_code, error_code(declared)) == (413, "TOO_LARGE")
    chunked = api.post("/v1/orders", headers=headers,
                       content=(body[i:i + 4096] for i in range(0, len(body), 4096)))
    assert (chunked.status_code, error_code(chunked)) == (413, "TOO_LARGE")
    assert p.scalar("SELECT count(*) FROM issued_orders") == 0


def test_rate_limits_per_token_and_per_address(platform, monkeypatch):
    """Queries and order entry draw on separate buckets of a token; the address's bucket
    holds whatever the tokens; a refusal says when to come back."""
    from tests.integration.test_api_support import app_client, auth, error_code

    p = platform
    p.symbol("ACME", reference_price=10_000)
    p.account("alice", cash=1_000_000)
    p.account("bob", cash=1_000_000)
    monkeypatch.setenv("MATCHSTREAM_RATE_QUERIES", "0.01/3")  # 3, then one per 100 s
    monkeypatch.setenv("MATCHSTREAM_RATE_ORDERS", "0.01/2")
    monkeypatch.setenv("MATCHSTREAM_RATE_ADDRESS", "0.01/7")  # alice takes 5
    alice, bob = auth(p, "alice"), auth(p, "bob")
    order = {"symbol": "ACME", "side": "BUY", "quantity": 1, "price": 9_000}
    with app_client(p, monkeypatch) as api:  # noqa: F811
        assert [api.get("/v1/portfolio", headers=alice).status_code
                for _ in range(4)] == [200, 200, 200, 429]
        refused = api.get("/v1/portfolio", headers=alice)
        assert (refused.status_code, error_code(refused)) == (429, "RATE_LIMITED")
        assert 1 <= int(refused.headers["Retry-After"]) <= 100
        # order entry has its own bucket
        assert [api.post("/v1/orders", headers=alice, json=order).status_code
                for _ in range(3)] == [202, 202, 429]
        # another token has its own buckets, until the address has none left
        assert [api.get("/v1/portfolio", headers=bob).status_code
                for _ in range(3)] == [200, 200, 429]
        assert api.get("/health").status_code == 200  # never limited


def test_client_chosen_identifiers_are_checked_before_anything_is_stored(platform, api):  # noqa: F811
    from tests.integration.test_api_support import auth, error_code

    p = platform
    p.symbol("ACME", reference_price=10_000)
    p.account("alice", cash=1_000_000)
    order = {"symbol": "ACME", "side": "BUY", "quantity": 1, "price": 9_000}
    keyed = api.post("/v1/orders", json=order,
                     headers={**auth(p, "alice"), "Idempotency-Key": "key/1 with spaces"})
    assert (keyed.status_code, error_code(keyed)) == (400, "BAD_REQUEST")
    admin = auth(p, None)
    account = api.post("/v1/admin/accounts", headers=admin, json={"account_id": "björn"})
    assert (account.status_code, error_code(account)) == (422, "BAD_ACCOUNT_ID")
    adjusted = api.post("/v1/admin/accounts/alice/adjustments", headers=admin, json={
        "asset": "CASH", "amount": 1, "reference": "réf"})
    assert (adjusted.status_code, error_code(adjusted)) == (422, "BAD_REFERENCE")
    assert p.scalar("SELECT count(*) FROM idempotency_keys") == 0
    assert p.scalar("SELECT count(*) FROM issued_orders") == 0
    assert p.scalar("SELECT count(*) FROM accounts WHERE account_id = 'björn'") == 0
