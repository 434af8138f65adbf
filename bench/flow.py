"""Seeded fixed-mix command flow for the benchmark, generated before any timing.

Mix: ~70% LIMIT GTC (priced around a slowly random-walking mid, ~15% marketable),
~10% MARKET IOC, ~20% Cancel of an order that is resting at that point. To pick
cancels of resting orders the generator replays the flow through a scratch book.
"""
from __future__ import annotations

import random

from engine.book import Book
from engine.commands import Cancel, NewOrder
from engine.enums import OrderType, Side, TimeInForce
from engine.spec import SymbolSpec

SYMBOL = "BENCH"
START = 10_000   # cents
T0 = 1_700_000_000_000
BUY, SELL = Side.BUY, Side.SELL


def spec() -> SymbolSpec:
    # wide band: the fixed mix should measure matching, not halts
    return SymbolSpec(SYMBOL, max_order_quantity=1_000_000, band_bps=5000)


def make_flow(n: int, seed: int = 7, preload: int = 0, spread: int = 30,
              target: int = 3000):
    """Returns (preload commands, timed commands). ``preload`` resting orders are spread
    over +-``spread`` * 40 ticks to build a deep book before the timed flow."""
    rng = random.Random(seed)
    scratch = Book(spec())
    index = scratch.index
    live: list[str] = []
    accounts = [f"acct{i}" for i in range(200)]
    mid = START
    ts = T0
    next_id = 0
    pre = []
    for _ in range(preload):
        next_id += 1
        side = BUY if rng.random() < 0.5 else SELL
        off = 1 + int(rng.expovariate(1 / (spread * 10)))
        price = mid - off if side is BUY else mid + off
        cmd = NewOrder(f"p{next_id}", rng.choice(accounts), SYMBOL, side, OrderType.LIMIT,
                       TimeInForce.GTC, rng.randrange(1, 100), max(1, price), ts)
        scratch.apply(cmd)
        live.append(cmd.order_id)
        pre.append(cmd)
    flow = []
    goal = max(target, preload)
    for _ in range(n):
        ts += rng.randrange(0, 3)
        if rng.random() < 0.01:
            mid += 1 if rng.random() < 0.5 else -1
        r = rng.random()
        if r < 0.20 and live:
            cmd = None
            for _ in range(8):   # find an order that is still resting
                i = rng.randrange(len(live))
                oid = live[i]
                live[i] = live[-1]
                live.pop()
                order = index.get(oid)
                if order is not None:
                    cmd = Cancel(oid, order[2], SYMBOL, ts)
                    break
                if not live:
                    break
            if cmd is None:
                continue
        elif r < 0.30:
            next_id += 1
            side = BUY if rng.random() < 0.5 else SELL
            mean = min(max(150 * len(index) // goal, 10), 1000)
            cmd = NewOrder(f"m{next_id}", rng.choice(accounts), SYMBOL, side, OrderType.MARKET,
                           TimeInForce.IOC, rng.randrange(1, 2 * mean), None, ts)
        else:
            next_id += 1
            side = BUY if rng.random() < 0.5 else SELL
            off = int(rng.expovariate(1 / spread)) - 4   # negative: marketable
            price = mid - off if side is BUY else mid + off
            cmd = NewOrder(f"o{next_id}", rng.choice(accounts), SYMBOL, side, OrderType.LIMIT,
                           TimeInForce.GTC, rng.randrange(1, 100), max(1, price), ts)
            live.append(cmd.order_id)
        scratch.apply(cmd)
        flow.append(cmd)
    return pre, flow, len(scratch)
