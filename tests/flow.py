"""Seeded order flows for integration tests: valid orders from funded accounts."""

from __future__ import annotations

import random

from schemas.records import CancelRequest, NewOrderRequest


def order_flow(seed: int, count: int, accounts: list[str], symbols: dict[str, int],
               cancel_ratio: float = 0.15, market_ratio: float = 0.05):
    """Yield (account, request) pairs: limits around each symbol's price (GTC, some IOC and
    FOK), some market orders, and cancels of the account's own earlier orders."""
    rng = random.Random(seed)
    sent: dict[str, list[str]] = {a: [] for a in accounts}
    for n in range(count):
        account = rng.choice(accounts)
        roll = rng.random()
        if roll < cancel_ratio and sent[account]:
            yield account, CancelRequest(order_id=rng.choice(sent[account]), account=account)
            continue
        symbol = rng.choice(list(symbols))
        mid = symbols[symbol]
        side = rng.choice(("BUY", "SELL"))
        order_id = f"{account}-{seed}-{n}"
        if roll < cancel_ratio + market_ratio:
            request = NewOrderRequest(order_id=order_id, account=account, symbol=symbol,
                                      side=side, quantity=rng.randint(1, 50),
                                      order_type="MARKET", tif="IOC")
        else:
            # buyers bid a little below mid, sellers ask a little above; overlap trades
            offset = rng.randint(-30, 10) if side == "BUY" else rng.randint(-10, 30)
            request = NewOrderRequest(order_id=order_id, account=account, symbol=symbol,
                                      side=side, quantity=rng.randint(1, 100),
                                      price=mid + offset,
                                      tif=rng.choice(("GTC",) * 8 + ("IOC", "FOK")))
        sent[account].append(order_id)
        yield account, request
