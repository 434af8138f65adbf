"""The pre-trade rules of risk/rules.py, as a specification: what each rule answers, in
what order the rules apply, and where each boundary lies."""

from __future__ import annotations

import pytest

from engine.enums import Reject
from engine.spec import SymbolSpec
from risk.rules import (
    check_cancel,
    check_new_order,
    market_collar,
    within_position_limit,
)
from schemas.records import MAX_ID_LENGTH, MAX_PRICE, MAX_QUANTITY, CancelRequest, NewOrderRequest

NOW = 1_000_000
ACME = SymbolSpec("ACME", tick_size=5, lot_size=10, max_order_quantity=1_000,
                  shares_outstanding=1_000_000, reference_price=10_000)


def order(**change) -> NewOrderRequest:
    fields = {"order_id": "o-1", "account": "alice", "symbol": "ACME", "side": "BUY",
              "quantity": 100, "order_type": "LIMIT", "tif": "GTC", "price": 10_000}
    fields.update(change)
    return NewOrderRequest(**fields)


def check(rules: SymbolSpec | None = ACME, now: int = NOW, **change) -> Reject | None:
    return check_new_order(order(**change), rules, now)


# ---------------------------------------------------------------- check_new_order

def test_a_well_formed_order_within_the_symbols_rules_passes():
    assert check() is None
    assert check(side="SELL", tif="IOC") is None
    assert check(tif="FOK") is None
    assert check(order_type="MARKET", price=None) is None


@pytest.mark.parametrize("field", ["order_id", "account"])
@pytest.mark.parametrize("value", ["", "x" * (MAX_ID_LENGTH + 1), "a\x00b", "tab\there",
                                   "\ud800"])
def test_an_order_id_or_account_not_storable_as_text_is_malformed(field, value):
    assert check(**{field: value}) is Reject.MALFORMED


@pytest.mark.parametrize("field", ["order_id", "account"])
def test_ids_up_to_64_printable_characters_are_accepted(field):
    assert check(**{field: "x" * MAX_ID_LENGTH}) is None
    assert check(**{field: "ünïcødé id"}) is None


def test_an_unknown_symbol_is_refused_after_the_ids_are_checked():
    assert check(rules=None) is Reject.UNKNOWN_SYMBOL
    assert check(rules=None, order_id="") is Reject.MALFORMED


@pytest.mark.parametrize("field, value", [("side", "buy"), ("side", "HOLD"),
                                          ("order_type", "STOP"), ("tif", "DAY"),
                                          ("tif", "")])
def test_a_side_order_type_or_time_in_force_outside_its_enum_is_malformed(field, value):
    assert check(**{field: value}) is Reject.MALFORMED


def test_the_enums_are_checked_before_quantity_and_price():
    assert check(side="HOLD", quantity=0, price=0) is Reject.MALFORMED


@pytest.mark.parametrize("quantity", [0, -10])
def test_a_quantity_must_be_positive(quantity):
    assert check(quantity=quantity) is Reject.BAD_QUANTITY


def test_a_quantity_may_equal_the_symbols_maximum_but_not_exceed_it():
    assert check(quantity=ACME.max_order_quantity) is None
    assert check(quantity=ACME.max_order_quantity + 10) is Reject.BAD_QUANTITY


def test_a_quantity_never_exceeds_max_quantity_whatever_the_symbols_maximum():
    unbounded = SymbolSpec("BIG", max_order_quantity=2**63 - 1, reference_price=1)
    assert check(unbounded, symbol="BIG", quantity=MAX_QUANTITY, price=1) is None
    assert check(unbounded, symbol="BIG", quantity=MAX_QUANTITY + 1, price=1) \
        is Reject.BAD_QUANTITY


def test_a_quantity_must_be_a_multiple_of_the_lot_size():
    assert check(quantity=10) is None
    assert check(quantity=15) is Reject.BAD_QUANTITY
    assert check(quantity=5) is Reject.BAD_QUANTITY


def test_the_quantity_is_checked_before_the_price():
    assert check(quantity=0, price=None) is Reject.BAD_QUANTITY


@pytest.mark.parametrize("price", [None, 0, -5])
def test_a_limit_order_needs_a_positive_price(price):
    assert check(price=price) is Reject.BAD_PRICE


def test_a_limit_price_may_equal_max_price_but_not_exceed_it():
    assert check(price=MAX_PRICE) is None  # MAX_PRICE is a multiple of the tick 5
    assert check(price=MAX_PRICE + 5) is Reject.BAD_PRICE


def test_a_limit_price_off_the_tick_is_off_tick():
    assert check(price=10_005) is None
    assert check(price=10_003) is Reject.OFF_TICK
    assert check(price=1) is Reject.OFF_TICK


def test_a_price_above_max_price_is_bad_price_even_when_off_tick():
    assert check(price=MAX_PRICE + 1) is Reject.BAD_PRICE


@pytest.mark.parametrize("price", [10_000, 0, 10_003])
def test_a_market_order_carries_no_client_price(price):
    """Its price is the gate's collar."""
    assert check(order_type="MARKET", price=price) is Reject.BAD_PRICE


def test_orders_are_halted_until_the_halt_ends_and_accepted_from_that_instant():
    halted = SymbolSpec("ACME", tick_size=5, lot_size=10, max_order_quantity=1_000,
                        reference_price=10_000, halted_until_ms=NOW + 1)
    assert check(halted, now=NOW) is Reject.HALTED
    assert check(halted, now=NOW + 1) is None
    assert check(halted, now=NOW + 2) is None


def test_a_halt_is_the_last_rule_checked():
    halted = SymbolSpec("ACME", tick_size=5, halted_until_ms=NOW + 1)
    assert check(halted, price=10_003) is Reject.OFF_TICK
    assert check(halted, order_type="MARKET", price=None) is Reject.HALTED


# ---------------------------------------------------------------- check_cancel

def test_a_cancel_with_storable_ids_passes():
    assert check_cancel(CancelRequest(order_id="o-1", account="alice")) is None
    assert check_cancel(CancelRequest(order_id="x" * MAX_ID_LENGTH, account="a")) is None


@pytest.mark.parametrize("order_id, account", [("", "alice"), ("o-1", ""),
                                               ("x" * (MAX_ID_LENGTH + 1), "alice"),
                                               ("o-1", "al\x00ice")])
def test_a_cancel_with_an_id_not_storable_as_text_is_malformed(order_id, account):
    assert check_cancel(CancelRequest(order_id=order_id, account=account)) is Reject.MALFORMED


# ---------------------------------------------------------------- market_collar

@pytest.mark.parametrize("last, tick, collar", [
    (10_000, 1, 11_000),   # last + 10%
    (10_001, 1, 11_002),   # 11_001.1, rounded up
    (10_000, 5, 11_000),   # already on the tick
    (10_003, 5, 11_005),   # 11_003.3 -> 11_004 -> up to the tick
    (1, 1, 2),             # 1.1 rounded up: never the last price itself
])
def test_a_market_buy_is_collared_10_percent_above_last_rounded_up_to_the_tick(last, tick,
                                                                               collar):
    assert market_collar("BUY", last, tick) == collar


@pytest.mark.parametrize("last, tick, collar", [
    (10_000, 1, 9_000),    # last - 10%
    (10_001, 1, 9_000),    # 9_000.9, rounded down
    (10_003, 5, 9_000),    # 9_002.7 -> 9_002 -> down to the tick
    (1, 1, 1),             # 0.9 would be 0: never below one tick
    (4, 5, 5),
])
def test_a_market_sell_is_collared_10_percent_below_last_rounded_down_but_at_least_a_tick(
        last, tick, collar):
    assert market_collar("SELL", last, tick) == collar


@pytest.mark.parametrize("last, tick, collar", [
    (MAX_PRICE, 1, MAX_PRICE),
    (MAX_PRICE - 3, 5, MAX_PRICE),
    (MAX_PRICE, 7, MAX_PRICE // 7 * 7),   # the highest tick at or below MAX_PRICE
    (95_000_000_000, 1, MAX_PRICE),        # 104.5bn capped
])
def test_a_market_buy_collar_is_capped_at_the_highest_tick_not_above_max_price(last, tick,
                                                                               collar):
    assert market_collar("BUY", last, tick) == collar


def test_the_collars_base_is_the_last_trade_price_or_the_reference_before_any_trade():
    assert ACME.market_price == 10_000
    traded = SymbolSpec("ACME", reference_price=10_000, last_price=12_345)
    assert traded.market_price == 12_345


# ---------------------------------------------------------------- within_position_limit

def test_an_account_may_hold_exactly_5_percent_of_the_shares_outstanding():
    assert within_position_limit(0, 0, 50, shares_outstanding=1_000)
    assert not within_position_limit(0, 0, 51, shares_outstanding=1_000)


def test_the_limit_counts_holdings_open_buys_and_the_new_order_together():
    assert within_position_limit(20, 20, 10, shares_outstanding=1_000)
    assert not within_position_limit(20, 20, 11, shares_outstanding=1_000)
    assert not within_position_limit(50, 0, 1, shares_outstanding=1_000)
    assert not within_position_limit(0, 50, 1, shares_outstanding=1_000)


def test_the_limit_is_exact_in_integers_when_5_percent_is_not_whole():
    # 5% of 1_010 is 50.5 shares: 50 fit, 51 do not
    assert within_position_limit(0, 0, 50, shares_outstanding=1_010)
    assert not within_position_limit(0, 0, 51, shares_outstanding=1_010)
