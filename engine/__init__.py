"""matchstream's pure matching core: commands in, events out; no I/O, no clock.

Stdlib and sortedcontainers only (a test scans the imports). Modules: ``enums``
(sides, types, the platform's one Reject enum, cancel reasons), ``spec`` (units),
``commands``, ``events``, ``book`` (one symbol), ``exchange`` (many symbols),
``breaker`` (circuit-breaker arithmetic), ``snapshot`` (recovery), ``status`` (order
status transition table), ``invariants`` (book self-check).
"""
from engine.book import Book
from engine.commands import Cancel, NewOrder, Replace
from engine.enums import CancelReason, CommandKind, OrderType, Reject, Side, TimeInForce
from engine.exchange import Exchange
from engine.spec import SymbolSpec

__all__ = ["Book", "Cancel", "CancelReason", "CommandKind", "Exchange", "NewOrder",
           "OrderType", "Reject", "Replace", "Side", "SymbolSpec", "TimeInForce"]
