"""Enums shared by the whole platform: sides, order types, time in force, and the
single rejection / cancellation vocabularies.

``Reject`` is the one rejection enum every stage uses (gate, matcher, API); its
``stage`` tells where it is raised so the API can map it to a 4xx in one place.
StrEnum so values are plain JSON strings.
"""
from __future__ import annotations

from enum import StrEnum


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


class OrderType(StrEnum):
    LIMIT = "LIMIT"
    MARKET = "MARKET"


class TimeInForce(StrEnum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"


# members by wire value: what the gate accepts (else MALFORMED) and how the matcher
# turns a record's string into a member (a dict lookup costs a fraction of a call)
SIDES = {m.value: m for m in Side}
ORDER_TYPES = {m.value: m for m in OrderType}
TIFS = {m.value: m for m in TimeInForce}


class Stage(StrEnum):
    DECODE = "DECODE"
    VALIDATION = "VALIDATION"
    RISK = "RISK"
    MATCHING = "MATCHING"
    HALT = "HALT"


class Reject(StrEnum):
    # decode (edge)
    MALFORMED = "MALFORMED"
    # validation (gate or matcher)
    UNKNOWN_ACCOUNT = "UNKNOWN_ACCOUNT"
    UNKNOWN_SYMBOL = "UNKNOWN_SYMBOL"
    BAD_QUANTITY = "BAD_QUANTITY"
    BAD_PRICE = "BAD_PRICE"
    OFF_TICK = "OFF_TICK"
    DUPLICATE_ORDER_ID = "DUPLICATE_ORDER_ID"
    POST_ONLY_NEEDS_GTC_LIMIT = "POST_ONLY_NEEDS_GTC_LIMIT"  # post-only: a resting order
    # risk (gate)
    INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
    INSUFFICIENT_SHARES = "INSUFFICIENT_SHARES"
    POSITION_LIMIT = "POSITION_LIMIT"
    # matching
    UNKNOWN_ORDER = "UNKNOWN_ORDER"
    NOT_OWNER = "NOT_OWNER"
    NOT_HOME_PARTITION = "NOT_HOME_PARTITION"  # a command on an `orders` partition not its symbol's
    POST_ONLY_WOULD_CROSS = "POST_ONLY_WOULD_CROSS"  # it would have traded on arrival
    # halt
    HALTED = "HALTED"

    @property
    def stage(self) -> Stage:
        return _STAGE[self]


_STAGE = {
    Reject.MALFORMED: Stage.DECODE,
    Reject.UNKNOWN_ACCOUNT: Stage.VALIDATION,
    Reject.UNKNOWN_SYMBOL: Stage.VALIDATION,
    Reject.BAD_QUANTITY: Stage.VALIDATION,
    Reject.BAD_PRICE: Stage.VALIDATION,
    Reject.OFF_TICK: Stage.VALIDATION,
    Reject.DUPLICATE_ORDER_ID: Stage.VALIDATION,
    Reject.POST_ONLY_NEEDS_GTC_LIMIT: Stage.VALIDATION,
    Reject.INSUFFICIENT_FUNDS: Stage.RISK,
    Reject.INSUFFICIENT_SHARES: Stage.RISK,
    Reject.POSITION_LIMIT: Stage.RISK,
    Reject.UNKNOWN_ORDER: Stage.MATCHING,
    Reject.NOT_OWNER: Stage.MATCHING,
    Reject.NOT_HOME_PARTITION: Stage.MATCHING,
    Reject.POST_ONLY_WOULD_CROSS: Stage.MATCHING,
    Reject.HALTED: Stage.HALT,
}


class CancelReason(StrEnum):
    USER = "USER"                      # Cancel command
    IOC_REMAINDER = "IOC_REMAINDER"    # IOC limit: unfilled part
    FOK_UNFILLABLE = "FOK_UNFILLABLE"  # FOK could not fill completely: no trades
    NO_LIQUIDITY = "NO_LIQUIDITY"      # MARKET: opposite side ran out
    PRICE_COLLAR = "PRICE_COLLAR"      # MARKET: protection price reached
    SELF_TRADE = "SELF_TRADE"          # resting order cancelled by STP
    HALTED = "HALTED"                  # incoming remainder when the breaker trips


class CommandKind(StrEnum):
    """Which command a Rejected event answers."""

    NEW = "NEW"
    CANCEL = "CANCEL"
