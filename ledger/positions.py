"""Pure ledger arithmetic: order status from quantities, average cost on a sale.

Status transitions (any other is a bug):
  ACCEPTED -> PARTIALLY_FILLED -> FILLED
  ACCEPTED | PARTIALLY_FILLED -> CANCELLED   (user, IOC/FOK/MARKET remainder, self-trade, halt)
  ACCEPTED -> REJECTED                       (refused by the matcher, e.g. HALTED)
  REJECTED at the gate is final from the start.
Trades of a cancelled order may still settle after its cancellation: the status stays
CANCELLED and only its filled quantity grows.
"""

from __future__ import annotations

OPEN = ("ACCEPTED", "PARTIALLY_FILLED")
TERMINAL = ("FILLED", "CANCELLED", "REJECTED")

ALLOWED = {
    "ACCEPTED": {"ACCEPTED", "PARTIALLY_FILLED", "FILLED", "CANCELLED", "REJECTED"},
    "PARTIALLY_FILLED": {"PARTIALLY_FILLED", "FILLED", "CANCELLED"},
    "FILLED": {"FILLED"},
    "CANCELLED": {"CANCELLED"},
    "REJECTED": {"REJECTED"},
}


class IllegalTransition(ValueError):
    pass


def order_status(quantity: int, filled: int, cancelled: int, rejected: bool = False) -> str:
    if filled + cancelled > quantity:
        raise ValueError(f"filled {filled} + cancelled {cancelled} exceed quantity {quantity}")
    if cancelled:
        return "REJECTED" if rejected else "CANCELLED"
    if filled == quantity:
        return "FILLED"
    return "PARTIALLY_FILLED" if filled else "ACCEPTED"


def transition(current: str, new: str) -> str:
    if new not in ALLOWED.get(current, ()):
        raise IllegalTransition(f"order status {current} cannot become {new}")
    return new


def cost_after_sale(cost_basis: int, position: int, sold: int) -> int:
    """Cost basis left after selling `sold` of `position` shares: proportional, floored."""
    if sold > position or position <= 0:
        raise ValueError(f"cannot sell {sold} of a position of {position}")
    return cost_basis - cost_basis * sold // position


def average_cost(cost_basis: int, position: int) -> int:
    return cost_basis // position if position else 0
