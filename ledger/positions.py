"""A holding's cost basis: what is left of it after a sale, and its average cost.

Integer cents throughout. Settlement (ledger/effects.py) reduces the seller's cost basis
at each sale; the API (api/portfolio.py) shows the average cost.
"""

from __future__ import annotations


def cost_after_sale(cost_basis: int, position: int, sold: int) -> int:
    """Cost basis left after selling `sold` of `position` shares: proportional, floored."""
    if sold > position or position <= 0:
        raise ValueError(f"cannot sell {sold} of a position of {position}")
    return cost_basis - cost_basis * sold // position


def average_cost(cost_basis: int, position: int) -> int:
    """Cost per share, floored; 0 for an empty position."""
    return cost_basis // position if position else 0
