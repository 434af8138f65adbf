"""Seeded random command flows for the engine tests (moderate book size)."""
from __future__ import annotations

import random

from engine.commands import Cancel, NewOrder
from engine.enums import OrderType, Side, TimeInForce

SYMBOL = "XYZ"


def random_flow(seed: int, n: int, accounts: int = 6, tick: int = 1,
                start_price: int = 10_000, ts_step: int = 1):
    """Mixed flow: limits of every tif, markets with and without collar, cancels,
    invalid commands; ids sometimes reused or unknown."""
    rng = random.Random(seed)
    mid = start_price
    live: list[tuple[str, str]] = []   # (order_id, account) probably resting
    ts = 1_700_000_000_000
    next_id = 0
    sides = (Side.BUY, Side.SELL)
    for _ in range(n):
        ts += rng.randrange(0, ts_step + 1)
        if rng.random() < 0.02:
            mid += rng.choice((-1, 1)) * rng.randrange(1, 40) * tick   # occasional jump
        # random walk kept within +-5% of the start so the band stays many ticks wide
        mid = min(max(start_price * 95 // 100, mid + rng.choice((-1, 0, 1)) * tick),
                  start_price * 105 // 100)
        mid -= mid % tick
        r = rng.random()
        account = f"acct{rng.randrange(accounts)}"
        if r < 0.55 or not live:
            next_id += 1
            oid = f"o{next_id}" if rng.random() > 0.002 else f"o{max(1, next_id - 3)}"
            side = rng.choice(sides)
            tif = rng.choices((TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK),
                              (85, 10, 5))[0]
            offset = rng.randrange(-6, 20) * tick
            price = mid - offset if side is Side.BUY else mid + offset
            qty = rng.randrange(1, 50)
            if rng.random() < 0.003:
                qty = rng.choice((0, -5))
            if rng.random() < 0.003:
                price = price + 1 if tick > 1 else -price
            yield NewOrder(oid, account, SYMBOL, side, OrderType.LIMIT, tif, qty, price, ts)
            if tif is TimeInForce.GTC:
                live.append((oid, account))
                if len(live) > 600:   # old ones have mostly traded away
                    del live[:100]
        elif r < 0.65:
            next_id += 1
            side = rng.choice(sides)
            collar = None
            if rng.random() < 0.5:
                collar = mid + 5 * tick if side is Side.BUY else mid - 5 * tick
            tif = rng.choices((TimeInForce.IOC, TimeInForce.GTC, TimeInForce.FOK), (6, 2, 2))[0]
            yield NewOrder(f"o{next_id}", account, SYMBOL, side, OrderType.MARKET, tif,
                           rng.randrange(1, 80), collar, ts)
        else:
            i = rng.randrange(len(live))
            oid, owner = live[i]
            live[i] = live[-1]
            live.pop()
            if rng.random() < 0.03:
                owner = account          # maybe not the owner
            if rng.random() < 0.02:
                oid = "nope"
            yield Cancel(oid, owner, SYMBOL, ts)
