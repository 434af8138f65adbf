"""Cancel-all end to end, through the API: every open order of the caller (of one symbol
when asked) is cancelled and released, orders placed just before it included (the gate
takes an account's requests in order); other accounts' orders stay."""

from __future__ import annotations

from tests.integration.test_api_support import api, auth, error_code  # noqa: F401
from tests.platform import wait_for


def _place(api, headers, symbol: str, side: str, price: int, order_id: str) -> None:  # noqa: F811
    placed = api.post("/v1/orders", json={"symbol": symbol, "side": side, "quantity": 10,
                                          "price": price, "order_id": order_id},
                      headers=headers)
    assert placed.status_code == 202, placed.text


def _statuses(p) -> dict[str, str]:
    return dict(p.rows("SELECT order_id, status FROM orders"))


def test_cancel_all_of_a_symbol_then_of_everything(platform, api):  # noqa: F811
    p = platform
    p.symbol("ACME", reference_price=10_000)
    p.symbol("BOLT", reference_price=5_000)
    p.account("alice", cash=10_000_000, ACME=100, BOLT=100)
    p.account("bob", cash=10_000_000)
    alice, bob = auth(p, "alice"), auth(p, "bob")
    worker = p.start_worker()
    p.wait_ready(worker)
    logs = [worker.log_path]

    _place(api, alice, "ACME", "BUY", 9_000, "a-buy")
    _place(api, alice, "ACME", "SELL", 11_000, "a-sell")
    _place(api, alice, "BOLT", "BUY", 4_000, "b-buy")
    _place(api, bob, "ACME", "BUY", 9_000, "bob-buy")
    wait_for(lambda: len(_statuses(p)) == 4, 90, "four orders recorded", logs)

    assert error_code(api.delete("/v1/orders?symbol=" + "X" * 40, headers=alice)) == \
        "BAD_REQUEST"
    answer = api.delete("/v1/orders?symbol=ACME", headers=alice)
    assert answer.status_code == 202, answer.text
    wait_for(lambda: {k: v for k, v in _statuses(p).items() if k.startswith("a-")} == {
        "a-buy": "CANCELLED", "a-sell": "CANCELLED"}, 90, "alice's ACME orders cancelled",
        logs)
    assert _statuses(p)["b-buy"] == "ACCEPTED" and _statuses(p)["bob-buy"] == "ACCEPTED"

    _place(api, alice, "BOLT", "SELL", 6_000, "b-sell")  # right before it: covered too
    answer = api.delete("/v1/orders", headers=alice)
    assert answer.status_code == 202, answer.text
    wait_for(lambda: _statuses(p)["b-buy"] == "CANCELLED"
             and _statuses(p).get("b-sell") == "CANCELLED", 90, "every alice order cancelled",
             logs)
    assert _statuses(p)["bob-buy"] == "ACCEPTED"
    assert p.rows("SELECT reserved_cash FROM accounts WHERE account_id = 'alice'") == [(0,)]
    assert p.scalar("SELECT sum(reserved_quantity) FROM holdings WHERE account_id = 'alice'"
                    ) == 0
    p.assert_reconciled()
