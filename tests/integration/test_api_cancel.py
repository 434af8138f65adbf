"""A cancel sent right after the POST's 202, before the gate has recorded the order, is
accepted and takes effect; a cancel of another account's id is a 404 either way."""

from __future__ import annotations

from tests.integration.test_api_support import api, auth, error_code  # noqa: F401
from tests.platform import wait_for

BUY = {"symbol": "ACME", "side": "BUY", "quantity": 10, "price": 9_000}


def _place_and_cancel(api, headers, **extra) -> str:  # noqa: F811
    placed = api.post("/v1/orders", json={**BUY, **extra}, headers=headers)
    assert placed.status_code == 202, placed.text
    order_id = placed.json()["order_id"]
    cancel = api.delete(f"/v1/orders/{order_id}", headers=headers)  # no wait in between
    assert cancel.status_code == 202, cancel.text
    return order_id


def test_cancel_before_the_gate_records_the_order(platform, api):  # noqa: F811
    p = platform
    p.symbol("ACME", reference_price=10_000)
    p.account("alice", cash=10_000_000)
    p.account("bob", cash=10_000_000)
    alice, bob = auth(p, "alice"), auth(p, "bob")

    # no worker yet: the order is PENDING to its owner, unknown to anyone else
    shown = api.post("/v1/orders", json={**BUY, "order_id": "shown-1"}, headers=alice)
    assert shown.status_code == 202, shown.text
    view = api.get("/v1/orders/shown-1", headers=alice)
    assert view.status_code == 200, view.text
    assert {k: view.json()[k] for k in ("status", "symbol", "side", "quantity", "price",
                                        "filled_quantity", "fills")} == {
        "status": "PENDING", "symbol": "ACME", "side": "BUY", "quantity": 10,
        "price": {"cents": 9_000, "amount": "90.00"}, "filled_quantity": 0, "fills": []}
    assert error_code(api.get("/v1/orders/shown-1", headers=bob)) == "NOT_FOUND"
    pending_ids = ["shown-1"]
    # every cancel is of a pending order
    pending = [_place_and_cancel(api, alice) for _ in range(10)]
    pending.append(_place_and_cancel(api, alice, order_id="client-1"))
    assert p.scalar("SELECT count(*) FROM orders") == 0
    for oid in pending[:3] + ["never-issued"]:
        stolen = api.delete(f"/v1/orders/{oid}", headers=bob)
        assert (stolen.status_code, error_code(stolen)) == (404, "NOT_FOUND"), oid
    # an id in use (pending or recorded) cannot be taken by anyone, nor become bob's
    taken = api.post("/v1/orders", json={**BUY, "order_id": "client-1"}, headers=bob)
    assert (taken.status_code, error_code(taken)) == (422, "DUPLICATE_ORDER_ID")
    assert error_code(api.delete("/v1/orders/client-1", headers=bob)) == "NOT_FOUND"

    worker = p.start_worker()
    p.wait_ready(worker)
    # with the worker running: the cancel races the gate
    racing = [_place_and_cancel(api, alice) for _ in range(15)]
    racing += [_place_and_cancel(api, bob) for _ in range(10)]
    placed = pending + racing + pending_ids

    def all_cancelled() -> bool:  # all but shown-1, which was never cancelled: it rests
        statuses = dict(p.rows("SELECT order_id, status FROM orders"))
        return (len(statuses) == len(placed) and statuses.get("shown-1") == "ACCEPTED"
                and {s for o, s in statuses.items() if o != "shown-1"} == {"CANCELLED"})

    wait_for(all_cancelled, 180, "every other order cancelled", [worker.log_path])
    recorded_view = api.get("/v1/orders/shown-1", headers=alice).json()
    assert recorded_view["status"] == "ACCEPTED"
    assert recorded_view["reserved_cash"] == {"cents": 90_000, "amount": "900.00"}
    assert {r[0] for r in p.rows("SELECT order_id FROM orders")} == set(placed)
    assert p.scalar("SELECT sum(reserved_cash) FROM accounts") == 90_000  # shown-1 rests
    # once recorded and cancelled, a second cancel is a conflict; still 404 for bob
    assert error_code(api.delete(f"/v1/orders/{pending[0]}", headers=alice)) == "ORDER_NOT_OPEN"
    assert error_code(api.delete(f"/v1/orders/{pending[0]}", headers=bob)) == "NOT_FOUND"
    # its id again: the same order is a retry (nothing new placed), another one a duplicate
    again = api.post("/v1/orders", json={**BUY, "order_id": pending[0]}, headers=alice)
    assert again.status_code == 202 and again.json()["replayed"] is True, again.text
    recorded = api.post("/v1/orders", json={**BUY, "order_id": pending[0], "quantity": 11},
                        headers=alice)
    assert (recorded.status_code, error_code(recorded)) == (422, "DUPLICATE_ORDER_ID")
    p.assert_reconciled()
