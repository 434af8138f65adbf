"""The consumer lag arithmetic of /metrics (api/lag.py)."""

from api.lag import partition_lag


def test_partition_lag():
    assert partition_lag(high=10, low=0, committed=None) == 10  # no group yet
    assert partition_lag(high=10, low=4, committed=None) == 6   # from the earliest
    assert partition_lag(high=10, low=0, committed=7) == 3
    assert partition_lag(high=10, low=0, committed=-1001) == 10  # no commit
    assert partition_lag(high=10, low=8, committed=3) == 2  # older records gone
    assert partition_lag(high=10, low=0, committed=10) == 0
