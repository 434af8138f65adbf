"""Faust stages' fetches: short while records are buffered, long when none are
(streams/runtime/faust_fixes/fetch_wait.py says why)."""

from aiokafka.consumer import consumer
from aiokafka.structs import TopicPartition

from streams.runtime import app  # noqa: F401  (installs the fixes, as every stage does)
from streams.runtime.faust_fixes import fetch_wait


def test_a_fetch_that_leaves_out_buffered_partitions_comes_back_soon():
    assert fetch_wait.fetch_wait_ms(records_buffered=True) == fetch_wait.FETCH_MAX_WAIT_MS <= 50


def test_a_fetch_over_every_partition_may_wait_long():
    assert (fetch_wait.fetch_wait_ms(records_buffered=False)
            == fetch_wait.IDLE_FETCH_MAX_WAIT_MS >= 100)


def test_the_stages_consumers_make_that_fetcher():
    assert consumer.Fetcher is fetch_wait.Fetcher


def test_only_partitions_the_stage_reads_count_as_buffered():
    changelog = TopicPartition("matchstream-matcher-books-changelog", 0)
    orders = TopicPartition("orders", 1)
    assert not fetch_wait.input_buffered({})
    assert not fetch_wait.input_buffered({changelog: object()})  # written here, never taken
    assert fetch_wait.input_buffered({changelog: object(), orders: object()})
