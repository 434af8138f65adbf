"""The replication of the platform's topics follows the cluster's size unless set."""

from __future__ import annotations

import dataclasses

import pytest

from infra.kafka_client import producer_config
from infra.replication import Replication, replication_for
from infra.settings import load


@pytest.fixture
def settings(monkeypatch):
    for name in ("MATCHSTREAM_REPLICATION_FACTOR", "MATCHSTREAM_MIN_INSYNC_REPLICAS"):
        monkeypatch.delenv(name, raising=False)
    return load()


@pytest.mark.parametrize("brokers, expected", [
    (1, Replication(1, 1)), (2, Replication(2, 1)), (3, Replication(3, 2)),
    (5, Replication(3, 2)),
])
def test_unset_it_follows_the_cluster(settings, brokers, expected):
    assert replication_for(settings, brokers) == expected


def test_set_it_is_taken_as_set(settings):
    chosen = dataclasses.replace(settings, replication_factor=2, min_insync_replicas=2)
    assert replication_for(chosen, 5) == Replication(2, 2)
    assert replication_for(dataclasses.replace(settings, replication_factor=4), 5) == \
        Replication(4, 2)
    assert replication_for(settings, 3).topic_config() == {"min.insync.replicas": "2"}


def test_more_copies_than_brokers_is_refused_with_the_reason(settings):
    with pytest.raises(SystemExit, match="REPLICATION_FACTOR=3 .* has 1 broker"):
        replication_for(dataclasses.replace(settings, replication_factor=3), 1)
    with pytest.raises(SystemExit, match="MIN_INSYNC_REPLICAS=3 is more than"):
        replication_for(dataclasses.replace(settings, min_insync_replicas=3), 2)


def test_the_environment_sets_it(monkeypatch):
    monkeypatch.setenv("MATCHSTREAM_REPLICATION_FACTOR", "3")
    monkeypatch.setenv("MATCHSTREAM_MIN_INSYNC_REPLICAS", "2")
    assert (load().replication_factor, load().min_insync_replicas) == (3, 2)
    monkeypatch.setenv("MATCHSTREAM_REPLICATION_FACTOR", "three")
    with pytest.raises(SystemExit, match="positive number of brokers, found 'three'"):
        load()
    monkeypatch.setenv("MATCHSTREAM_REPLICATION_FACTOR", "0")
    with pytest.raises(SystemExit, match="positive number"):
        load()


def test_every_producer_waits_for_every_in_sync_copy(settings):
    assert producer_config(settings)["acks"] == "all"
    assert producer_config(settings, **{"linger.ms": 5})["acks"] == "all"
    from streams.runtime.app import app  # the Faust stages' producer (their tables too)

    assert app.conf.producer_acks == -1
