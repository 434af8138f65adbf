"""Invariant 8: replay the `orders` topic through a fresh matcher, offline."""

from __future__ import annotations

import uuid

from confluent_kafka import Consumer, TopicPartition

from engine.enums import Side
from engine.events import Trade
from engine.spec import SymbolSpec
from ledger.specs import read_spec
from schemas.codec import ORDER_BATCH, DecodeError
from streams.matcher_state import MatcherState
from tests.platform import wait_for


def read_partitions(bootstrap: str, topic: str, timeout: float = 10.0) -> dict[int, list]:
    """Every record of every partition, in offset order: {partition: [(offset, value)]}."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"replay-{uuid.uuid4()}",
                         "enable.auto.commit": False})
    try:
        partitions = consumer.list_topics(topic, timeout=timeout).topics[topic].partitions
        out: dict[int, list] = {}
        for p in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)
            out[p] = []
            if high <= low:
                continue
            consumer.assign([TopicPartition(topic, p, low)])
            while True:
                msg = consumer.poll(timeout)
                assert msg is not None, f"{topic}[{p}] stopped before offset {high}"
                if msg.error():
                    continue
                out[p].append((msg.offset(), msg.value()))
                if msg.offset() + 1 >= high:
                    break
        return out
    finally:
        consumer.close()


def replay_orders(bootstrap: str, topic: str, specs: dict[str, SymbolSpec]):
    """(trades by id, resting orders {order_id: remaining}) of a fresh matcher."""
    state = MatcherState()
    trades: dict[str, Trade] = {}
    for partition, records in read_partitions(bootstrap, topic).items():
        for offset, value in records:
            batch = ORDER_BATCH.decode(value)
            if isinstance(batch, DecodeError) or batch.symbol not in specs:
                continue
            if partition != specs[batch.symbol].home_partition:
                continue  # the matcher rejects it: NOT_HOME_PARTITION
            symbol_state = state.get(batch.symbol) or state.create(specs[batch.symbol])
            if not state.claim(symbol_state, offset):
                continue
            for command in batch.commands:
                try:
                    events = state.apply(symbol_state, command) or ()
                except Exception:
                    continue  # dead-lettered by the matcher, the book left as it was
                for event in events:
                    if type(event) is Trade:
                        trades[event.trade_id] = event
    resting = {}
    for symbol_state in state.symbols.values():
        for side in (Side.BUY, Side.SELL):
            for order in symbol_state.book.orders(side):
                resting[order[1]] = order[0]
    return trades, resting


def specs_of(p, symbols) -> dict[str, SymbolSpec]:
    """The symbols' specs from the platform's ledger."""
    with p.db.connect() as conn:
        return {s: read_spec(conn, s) for s in symbols}


def assert_settled_equals_replay(p, symbols, timeout: float, logs: list) -> dict[str, Trade]:
    """Until the settled trades and the ledger's open orders equal those of a fresh matcher
    replaying the `orders` topic (invariant 8); returns the replay's trades."""
    specs = specs_of(p, symbols)
    replayed: dict[str, Trade] = {}
    differences: list[str] = []

    def equal() -> bool:
        trades, resting = replay_orders(p.settings.kafka_bootstrap, p.topic("orders"), specs)
        replayed.clear()
        replayed.update(trades)
        settled = {r[0]: tuple(r[1:]) for r in p.rows(
            "SELECT trade_id, price, quantity, buy_order_id, sell_order_id FROM trades")}
        open_orders = dict(p.rows(
            "SELECT order_id, quantity - filled_quantity - cancelled_quantity FROM orders "
            "WHERE status IN ('ACCEPTED', 'PARTIALLY_FILLED')"))
        expected = {t.trade_id: (t.price, t.quantity, t.buy_order_id, t.sell_order_id)
                    for t in trades.values()}
        differences[:] = [f"{what}: {sorted(ids)[:5]} ({len(ids)})" for what, ids in (
            ("settled, not in the replay", settled.keys() - expected.keys()),
            ("in the replay, not settled", expected.keys() - settled.keys()),
            ("settled otherwise", {i for i in settled.keys() & expected.keys()
                                   if settled[i] != expected[i]}),
            ("open in the ledger, not resting", open_orders.keys() - resting.keys()),
            ("resting, not open in the ledger", resting.keys() - open_orders.keys()),
            ("open with another remainder", {i for i in open_orders.keys() & resting.keys()
                                             if open_orders[i] != resting[i]})) if ids]
        return not differences and bool(trades)

    try:
        wait_for(equal, timeout, "settled trades and open orders equal to a replay of the "
                 "orders topic", logs, interval=2.0)
    except AssertionError as exc:
        raise AssertionError(f"{'; '.join(differences)}\n{exc}") from None
    return dict(replayed)
