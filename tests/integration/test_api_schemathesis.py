"""Schemathesis generates requests from /openapi.json: no endpoint may answer 5xx.

Half the requests come from the document narrowed to this test's data (a listed symbol,
an order and an account that exist, prices and quantities the symbol accepts), so
generated requests reach the success paths (an accepted order, a cancel, a deposit) as
well as the errors."""

from __future__ import annotations

import copy

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.core import NOT_SET
from sqlalchemy import text

from tests.integration.test_api_support import api, auth  # noqa: F401

KNOWN = {"symbol": ["ACME"], "order_id": ["a1"], "account_id": ["alice"]}
ORDER_FIELDS = {"symbol": {"type": "string", "enum": ["ACME"]},
                "quantity": {"type": "integer", "minimum": 1, "maximum": 20},
                "order_type": {"type": "string", "enum": ["LIMIT"]},
                "price": {"type": "integer", "minimum": 9_000, "maximum": 11_000},
                "order_id": {"type": "string", "pattern": "^[a-z0-9]{6,12}$"}}
TEXT_KEY = {"type": "string", "pattern": "^[a-z0-9]{1,12}$"}
# amounts alice can always take or give, so a steered adjustment is applied (200)
ADJUSTMENT_FIELDS = {"asset": {"type": "string", "enum": ["CASH", "ACME"]},
                     "amount": {"type": "integer", "minimum": 1, "maximum": 1_000},
                     "reference": TEXT_KEY, "note": TEXT_KEY,
                     "cost_per_share": {"type": "integer", "minimum": 0, "maximum": 100_000}}


def _body(doc: dict, path: str, method: str) -> dict:
    content = doc["paths"][path][method]["requestBody"]["content"]["application/json"]
    return content["schema"]["properties"]


def steered(doc: dict) -> dict:
    """The document narrowed to this test's data (a union with the original would be
    simplified back to the original by the generator, so the two are drawn side by side)."""
    doc = copy.deepcopy(doc)
    for item in doc["paths"].values():
        for operation in item.values():
            for param in operation.get("parameters", []):
                if param["in"] == "path" and param["name"] in KNOWN:
                    param["schema"] = {"type": "string", "enum": KNOWN[param["name"]]}
                elif param["name"] == "Idempotency-Key":
                    param["schema"] = TEXT_KEY
    order = doc["paths"]["/v1/orders"]["post"]["requestBody"]["content"]["application/json"]
    order["schema"]["required"] = ["symbol", "side", "quantity", "price"]
    _body(doc, "/v1/orders", "post").update(ORDER_FIELDS)
    _body(doc, "/v1/admin/accounts/{account_id}/adjustments", "post").update(ADJUSTMENT_FIELDS)
    return doc


def _sendable(value: str) -> bool:
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return "\r" not in value and "\n" not in value and "\x00" not in value


def test_no_server_errors_on_generated_requests(platform, api):  # noqa: F811
    platform.symbol("ACME", reference_price=10_000)
    platform.account("alice", cash=1_000_000_000, ACME=10)
    with platform.db.begin() as conn:
        conn.execute(text("INSERT INTO orders (order_id, account_id, symbol, side, order_type, "
                          "tif, quantity, price, status) VALUES ('a1', 'alice', 'ACME', 'BUY', "
                          "'LIMIT', 'GTC', 1, 9000, 'ACCEPTED')"))
    account, admin = auth(platform, "alice"), auth(platform, None)
    doc = api.get("/openapi.json").json()
    schema = schemathesis.openapi.from_dict(doc)
    narrow = {r.ok().label: r.ok() for r in
              schemathesis.openapi.from_dict(steered(doc)).get_all_operations()}
    seen: dict[str, set[int]] = {}

    def check_operation(operation, token: dict) -> None:
        cases = st.one_of(operation.as_strategy(), narrow[operation.label].as_strategy())

        @settings(max_examples=40, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=cases)
        def check(case):
            # any header value HTTP can carry (latin-1, no line breaks), unicode included
            headers = {k: v for k, v in (case.headers or {}).items()
                       if isinstance(v, str) and _sendable(v)}
            kwargs = {"params": case.query or None, "headers": {**headers, **token}}
            if case.body is not NOT_SET:
                kwargs["json"] = case.body
            response = api.request(case.method, case.formatted_path, **kwargs)
            seen.setdefault(operation.label, set()).add(response.status_code)
            assert response.status_code < 500, (case.method, case.formatted_path, kwargs,
                                                 response.text)
            if response.status_code >= 400 and case.path != "/metrics":
                assert set(response.json()) == {"error"}
                assert set(response.json()["error"]) == {"code", "message"}

        check()

    for result in schema.get_all_operations():
        operation = result.ok()
        check_operation(operation, admin if operation.path.startswith("/v1/admin") else account)
    assert len(seen) == 19, seen
    # generated orders were both accepted and refused by the gate's rules
    assert {202, 422} <= seen["POST /v1/orders"], seen
    assert 202 in seen["DELETE /v1/orders/{order_id}"], seen
    assert 202 in seen["DELETE /v1/orders"], seen
    assert 200 in seen["GET /v1/orders/{order_id}"], seen
    assert 200 in seen["POST /v1/admin/accounts/{account_id}/adjustments"], seen
    assert all(200 in seen[f"GET /v1/symbols/{{symbol}}/{what}"]
               for what in ("trades", "candles", "quote", "book", "status")), seen
    # every accepted order is on Kafka with an id the API issued to alice
    issued = platform.scalar("SELECT count(*) FROM issued_orders WHERE account_id = 'alice'")
    assert issued >= 1
