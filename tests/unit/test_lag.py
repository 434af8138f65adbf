"""The consumer lag arithmetic of /metrics (api/lag.py)."""

from api.lag import partition_lag


def test_partition_lag():
    assert partition_lag(high=10, low=0, committed=None, own=None) == 10  # no group yet
    assert partition_lag(high=10, low=4, committed=None, own=None) == 6   # from the earliest
    assert partition_lag(high=10, low=0, committed=7, own=None) == 3
    assert partition_lag(high=10, low=0, committed=-1001, own=None) == 10  # no commit
    # the agent's own position is never ahead of what it applied: the lower one counts
    assert partition_lag(high=10, low=0, committed=9, own=6) == 4
    assert partition_lag(high=10, low=0, committed=6, own=9) == 4
    assert partition_lag(high=10, low=8, committed=3, own=None) == 2  # older records gone
    assert partition_lag(high=10, low=0, committed=10, own=10) == 0
