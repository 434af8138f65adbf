"""Every integer of every topic record is bounded at decode (schemas/records.py), so a
record that decodes can be given to the engine and to PostgreSQL; the gate's rules
(risk/rules.py) never let through what the matcher would refuse to decode."""

from __future__ import annotations

import msgspec
import pytest

from engine.breaker import INF
from engine.enums import Reject
from engine.spec import SymbolSpec
from risk.rules import check_new_order, market_collar
from schemas import records
from schemas.codec import (
    DEAD_LETTER,
    HALT,
    ORDER_BATCH,
    ORDER_EVENT,
    ORDER_REQUEST,
    TRADE,
    Codec,
    DecodeError,
    encode,
)
from schemas.records import (
    MAX_PRICE,
    MAX_QUANTITY,
    MAX_TS,
    AcceptedCancel,
    AcceptedOrder,
    NewOrderRequest,
    OrderBatch,
)

TOPIC_RECORDS = [records.NewOrderRequest, records.CancelRequest, records.CancelAllRequest,
                 records.AcceptedOrder, records.AcceptedCancelAll,
                 records.AcceptedCancel, records.OrderEvent, records.Trade, records.Quote,
                 records.Halt, records.DeadLetter, records.OrderBatch,
                 records.MatcherResults]
# the client's terms: out of range is a typed REJECTED (BAD_QUANTITY / BAD_PRICE) from the gate
GATE_CHECKED = {("NewOrderRequest", "quantity"), ("NewOrderRequest", "price")}


def _ints(t):
    """The int types inside a field type (through Optional)."""
    if isinstance(t, msgspec.inspect.UnionType):
        return [x for member in t.types for x in _ints(member)]
    return [t] if isinstance(t, msgspec.inspect.IntType) else []


def test_every_integer_field_of_every_topic_record_is_bounded():
    assert set(TOPIC_RECORDS) >= {
        v for v in vars(records).values()
        if isinstance(v, type) and issubclass(v, msgspec.Struct) and v is not msgspec.Struct}
    unbounded = []
    for record in TOPIC_RECORDS:
        for f in msgspec.inspect.type_info(record).fields:
            for t in _ints(f.type):
                if (record.__name__, f.name) in GATE_CHECKED:
                    continue
                if t.ge is None or t.le is None or t.ge < -1 or t.le > 2**63 - 1:
                    unbounded.append(f"{record.__name__}.{f.name}: {t}")
    assert unbounded == []


def test_the_bounds_keep_clear_of_the_engine_sentinel_and_bigint():
    assert MAX_PRICE < INF and MAX_TS < INF
    assert MAX_PRICE * MAX_QUANTITY <= 2**63 - 1


def order(**change) -> AcceptedOrder:
    fields = {"order_id": "o", "account": "a", "symbol": "ACME", "side": "BUY",
              "order_type": "LIMIT", "tif": "GTC", "quantity": 1, "price": 10_000,
              "ts": 1_700_000_000_000}
    fields.update(change)
    return AcceptedOrder(**fields)


def batch(*commands) -> bytes:
    """An `orders` record holding the commands."""
    return encode(OrderBatch("ACME", list(commands)))


@pytest.mark.parametrize("change", [
    {"ts": INF - 1}, {"ts": INF}, {"ts": MAX_TS + 1}, {"ts": -1},
    {"price": INF}, {"price": MAX_PRICE + 1}, {"price": 0}, {"price": -5},
    {"quantity": 0}, {"quantity": -1}, {"quantity": MAX_QUANTITY + 1}, {"quantity": 2**62},
    {"source_partition": -2}, {"source_offset": 2**63},
], ids=str)
def test_an_out_of_range_matcher_command_is_a_decode_error(change):
    assert isinstance(ORDER_BATCH.decode(batch(order(**change))), DecodeError)


def test_the_bounds_themselves_decode():
    for change in ({"ts": MAX_TS}, {"ts": 0}, {"price": MAX_PRICE}, {"price": 1},
                   {"price": None, "order_type": "MARKET"}, {"quantity": MAX_QUANTITY},
                   {"source_partition": 3, "source_offset": 2**63 - 1}):
        assert ORDER_BATCH.decode(batch(order(**change))).commands == [order(**change)]
    cancel = AcceptedCancel(order_id="o", account="a", symbol="ACME", ts=INF)
    assert isinstance(ORDER_BATCH.decode(batch(cancel)), DecodeError)


TRADE_TAIL = (b'"quantity":1,"buy_order_id":"b","sell_order_id":"s","buyer":"x",'
              b'"seller":"y","maker_order_id":"s","aggressor":"BUY","ts":1}')


@pytest.mark.parametrize("codec, raw", [
    (TRADE, b'{"trade_id":"t","symbol":"S","seq":1,"price":4611686018427387904,' + TRADE_TAIL),
    (TRADE, b'{"trade_id":"t","symbol":"S","seq":-1,"price":1,' + TRADE_TAIL),
    (ORDER_EVENT, (b'{"order_id":"o","account":"a","symbol":"S","status":"CANCELLED","ts":1,'
                   b'"remaining_quantity":-3,"seq":1}')),
    (HALT, b'{"symbol":"S","halted":true,"ts":1,"until_ts":4611686018427387904}'),
    (DEAD_LETTER, b'{"topic":"t","partition":-2,"offset":0,"error":"e","key":null,"value":""}'),
    (Codec(records.Quote), (b'{"symbol":"S","seq":1,"ts":1,"bid":0,"bid_size":0,"ask":null,'
                            b'"ask_size":0}')),
])
def test_out_of_range_values_on_the_other_topics_are_decode_errors(codec, raw):
    error = codec.decode(raw)
    assert isinstance(error, DecodeError) and "Expected `int`" in error.detail, error


def test_a_client_order_out_of_range_still_decodes_for_the_gate_to_reject():
    huge = NewOrderRequest(order_id="o", account="a", symbol="ACME", side="BUY",
                           quantity=10**30, price=10**30)
    assert ORDER_REQUEST.decode(encode(huge)) == huge
    bad_ts = b'{"kind":"new","order_id":"o","account":"a","symbol":"ACME","side":"BUY",' \
             b'"quantity":1,"price":1,"ts":-1}'
    assert isinstance(ORDER_REQUEST.decode(bad_ts), DecodeError)


RULES = SymbolSpec("ACME", tick_size=1, lot_size=1, max_order_quantity=2**63 - 1,
                   shares_outstanding=10**12, reference_price=10_000)


def request(**change) -> NewOrderRequest:
    fields = {"order_id": "o", "account": "a", "symbol": "ACME", "side": "BUY", "quantity": 1,
              "price": 10_000}
    fields.update(change)
    return NewOrderRequest(**fields)


def test_the_gate_refuses_what_the_matcher_would_not_decode():
    assert check_new_order(request(quantity=MAX_QUANTITY), RULES, 0) is None
    assert check_new_order(request(quantity=MAX_QUANTITY + 1), RULES, 0) is Reject.BAD_QUANTITY
    assert check_new_order(request(price=MAX_PRICE), RULES, 0) is None
    assert check_new_order(request(price=MAX_PRICE + 1), RULES, 0) is Reject.BAD_PRICE


@pytest.mark.parametrize("last, tick", [(MAX_PRICE, 1), (MAX_PRICE, 7), (MAX_PRICE - 3, 5)])
def test_a_market_buy_collar_is_never_above_max_price(last, tick):
    collar = market_collar("BUY", last, tick)
    assert collar <= MAX_PRICE and collar % tick == 0
    assert not isinstance(ORDER_BATCH.decode(batch(order(price=collar, order_type="MARKET",
                                                         tif="IOC"))), DecodeError)
