"""A holding's cost basis (ledger/positions.py), as a specification: a sale takes its
proportional share of the cost basis, floored, in integer cents; average cost is floored."""
from __future__ import annotations

import pytest

from ledger.positions import average_cost, cost_after_sale


@pytest.mark.parametrize(("cost_basis", "position", "sold", "left"), [
    (100_000, 10, 4, 60_000),      # 4 of 10 shares take 40% of the cost
    (100_000, 10, 10, 0),          # selling everything leaves nothing
    (100_000, 10, 0, 100_000),     # selling nothing changes nothing
    (1_000, 3, 1, 667),            # 1/3 of 1,000 is 333.3: 333 leaves, 667 stays
    (1_000, 3, 2, 334),            # 2/3 is 666.6: 666 leaves
    (0, 5, 2, 0),                  # shares received for free (e.g. a deposit)
])
def test_cost_after_sale_is_proportional_and_floored(cost_basis, position, sold, left):
    assert cost_after_sale(cost_basis, position, sold) == left


def test_selling_in_steps_never_leaves_cost_on_an_empty_position():
    cost, position = 1_000, 3
    for _ in range(3):
        cost = cost_after_sale(cost, position, 1)
        position -= 1
    assert (cost, position) == (0, 0)


@pytest.mark.parametrize(("position", "sold"), [(10, 11), (0, 0), (0, 1), (-1, 0)])
def test_cost_after_sale_of_more_than_the_position_raises(position, sold):
    with pytest.raises(ValueError, match=f"cannot sell {sold} of a position of {position}"):
        cost_after_sale(1_000, position, sold)


@pytest.mark.parametrize(("cost_basis", "position", "average"), [
    (100_500, 10, 10_050),
    (1_000, 3, 333),               # floored
    (0, 10, 0),
    (1_000, 0, 0),                 # no position: no average, not a division by zero
])
def test_average_cost_is_the_floored_cost_per_share(cost_basis, position, average):
    assert average_cost(cost_basis, position) == average
