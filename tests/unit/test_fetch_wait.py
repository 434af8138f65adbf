"""Faust stages' fetches: short while records are buffered, long when none are
(streams/runtime/app.py says why)."""

from aiokafka.consumer import consumer
from aiokafka.structs import TopicPartition

from streams.runtime import app


def test_a_fetch_that_leaves_out_buffered_partitions_comes_back_soon():
    assert app.fetch_wait_ms(records_buffered=True) == app.FETCH_MAX_WAIT_MS <= 50


def test_a_fetch_over_every_partition_may_wait_long():
    assert app.fetch_wait_ms(records_buffered=False) == app.IDLE_FETCH_MAX_WAIT_MS >= 100


def test_the_stages_consumers_make_that_fetcher():
    assert consumer.Fetcher is app._Fetcher


def test_only_partitions_the_stage_reads_count_as_buffered():
    changelog = TopicPartition("matchstream-matcher-books-changelog", 0)
    orders = TopicPartition("orders", 1)
    assert not app.input_buffered({})
    assert not app.input_buffered({changelog: object()})  # written here, never taken
    assert app.input_buffered({changelog: object(), orders: object()})
