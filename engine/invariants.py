"""Self-check of a Book; raises AssertionError saying what was expected and found."""
from __future__ import annotations

from engine.breaker import INF


def check_book(book) -> None:
    seen: dict[str, list] = {}
    for book_side in (book.bids, book.asks):
        levels = book_side.levels
        keys = list(book_side.keys())
        ladder = list(book_side.ladder)
        assert ladder == sorted(ladder), f"{book_side.side}: ladder unsorted: {ladder}"
        assert sorted(levels) == sorted(book_side.sign * k for k in keys), (
            f"{book_side.side}: level dict {sorted(levels)} != sorted keys {keys}")
        assert len(set(keys)) == len(keys), f"{book_side.side}: duplicate keys {keys}"
        expected_best = keys[0] if keys else INF
        assert book_side.best == expected_best, (
            f"{book_side.side}: cached best key {book_side.best}, expected {expected_best}")
        for price, level in levels.items():
            live = [o for o in level.orders if o[0]]
            assert live, f"{book_side.side} {price}: empty level"
            assert level.count == len(live), (
                f"{book_side.side} {price}: count {level.count}, live orders {len(live)}")
            total = sum(o[0] for o in live)
            assert level.qty == total, f"{book_side.side} {price}: qty {level.qty} != {total}"
            arrivals = [o[5] for o in live]
            assert arrivals == sorted(arrivals) and len(set(arrivals)) == len(arrivals), (
                f"{book_side.side} {price}: not FIFO by arrival: {arrivals}")
            for o in live:
                assert o[0] > 0 and o[3] == price and o[6] is book_side.side, (
                    f"{book_side.side} {price}: misplaced order {o}")
                assert o[1] not in seen, f"order {o[1]} rests twice"
                seen[o[1]] = o
    assert set(seen) == set(book.index), (
        f"index ids {sorted(book.index)} != resting ids {sorted(seen)}")
    for oid, order in book.index.items():
        assert seen[oid] is order, f"index entry for {oid} is not the resting record"
    bid, ask = book.best_bid(), book.best_ask()
    assert bid is None or ask is None or bid < ask, f"crossed book: bid {bid} >= ask {ask}"
    halted = book.breaker.halted_until
    assert (book._halt_end == INF) == (halted is None), (
        f"halt cache {book._halt_end} disagrees with breaker {halted}")
