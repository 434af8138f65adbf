"""matchstream's pure matching core: commands in, events out; no I/O, no clock.

Stdlib and sortedcontainers only (a test scans the imports). Modules: ``enums``
(sides, types, the platform's one Reject enum, cancel reasons), ``spec`` (units),
``commands``, ``events``, ``book`` (one symbol's order book and matcher), ``levels``
(price levels), ``breaker`` (circuit-breaker arithmetic), ``candles`` (candle
arithmetic), ``snapshot`` (recovery), ``status`` (order status transition table),
``invariants`` (book self-check).
"""
from engine.book import Book
from engine.commands import Cancel, NewOrder
from engine.enums import CancelReason, CommandKind, OrderType, Reject, Side, TimeInForce
from engine.spec import SymbolSpec

__all__ = ["Book", "Cancel", "CancelReason", "CommandKind", "NewOrder", "OrderType",
           "Reject", "Side", "SymbolSpec", "TimeInForce"]
