"""Two gate transactions on the same request at once: one consumer paused past its session
timeout, the group moved on, then it resumed. The money is reserved once.

Run directly on the real PostgreSQL, with the two transactions interleaved by hand:
the first holds its locks until the second is waiting on them.
"""

from __future__ import annotations

import asyncio

from ledger.pg import Database
from ledger.retry import transaction
from schemas.codec import encode
from schemas.records import NewOrderRequest
from streams.gate_logic import RawRecord, process_batch
from tests.faults import Waits

TOPIC = "order-requests"


def _request(order_id: str, account: str, quantity: int = 10, price: int = 10_000) -> bytes:
    return encode(NewOrderRequest(order_id=order_id, account=account, symbol="ACME",
                                  side="BUY", quantity=quantity, price=price))


async def _overlap(url: str, first: list[RawRecord], second: list[RawRecord], waits: Waits):
    """The second batch starts while the first holds its locks; both commit."""
    first_gate, second_gate = Database(url), Database(url)
    try:
        async with first_gate.connection() as a:
            async with a.pipeline() as pipeline:  # as ledger.pg.atomically, held open
                await a.execute("BEGIN")
                out_a = await process_batch(a, TOPIC, first, 1_000)
                await pipeline.sync()  # its writes are done, its transaction still open
                # the second runs as the gate stage runs a batch: under the retry policy
                second_task = asyncio.create_task(transaction(
                    second_gate, lambda conn: process_batch(conn, TOPIC, second, 1_001), waits))
                await asyncio.sleep(1.0)  # the second is now waiting on the first's locks
                assert not second_task.done(), "the second gate did not wait for the first's locks"
                await a.execute("COMMIT")
            out_b = await second_task
        return out_a, out_b
    finally:
        await first_gate.close()
        await second_gate.close()


def test_the_same_request_twice_at_once_reserves_once(platform):
    p = platform
    p.symbol("ACME", reference_price=10_000)
    p.account("bob", cash=1_000_000)
    record = RawRecord(b"bob", _request("o1", "bob"), partition=0, offset=7)
    waits = Waits()
    out_a, out_b = asyncio.run(_overlap(p.settings.database_url, [record], [record], waits))

    assert p.rows("SELECT cash, reserved_cash FROM accounts WHERE account_id = 'bob'") == [
        (1_000_000 - 100_000, 100_000)]
    assert p.scalar("SELECT count(*) FROM orders") == 1
    # the second consumer re-emits the first's outcome (the same record again)
    assert out_a.order_batches() == out_b.order_batches() and len(out_a.commands["ACME"]) == 1
    # at once: it looked for the order after the account lock it waited on, so it never
    # lost the insert (with the look-up first, the arbiter would make it run again)
    assert waits.reasons == []
    p.assert_reconciled(wait=0)


def test_one_order_id_from_two_accounts_at_once_is_one_order(platform):
    """The order-id insert is the arbiter where the account locks differ."""
    p = platform
    p.symbol("ACME", reference_price=10_000)
    p.account("bob", cash=1_000_000)
    p.account("carol", cash=1_000_000)
    bob = RawRecord(b"bob", _request("same", "bob"), partition=0, offset=1)
    carol = RawRecord(b"carol", _request("same", "carol"), partition=1, offset=1)
    waits = Waits()
    out_a, out_b = asyncio.run(_overlap(p.settings.database_url, [bob], [carol], waits))

    assert p.rows("SELECT account_id FROM orders") == [("bob",)]
    assert p.rows("SELECT account_id, cash, reserved_cash FROM accounts ORDER BY 1") == [
        ("bob", 900_000, 100_000), ("carol", 1_000_000, 0)]
    assert len(out_a.commands["ACME"]) == 1 and out_b.commands == {}
    assert b"DUPLICATE_ORDER_ID" in out_b.events[0][1]
    assert waits.reasons == ["conflict"]  # carol's batch lost the insert, then ran again
    p.assert_reconciled(wait=0)
