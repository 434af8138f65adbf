"""`matchstream up` / `topics` bring an existing topic's settings to its spec: a topic
made by an older version keeps working with today's records."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys

import pytest
from confluent_kafka.admin import (
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
)

from infra import topics
from infra.partitions import PartitionsRefused, grow
from infra.settings import REPO_ROOT
from tests.platform import wait_for


def _setting(client, topic: str, key: str) -> str:
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    return client.describe_configs([resource])[resource].result()[key].value


def _settled(client, topic: str, key: str, value: str) -> None:
    """A changed setting reaches describe_configs through the cluster's metadata, a moment
    after the change is acknowledged."""
    wanted = sorted(value.split(","))  # a list setting's order is the broker's
    wait_for(lambda: sorted(_setting(client, topic, key).split(",")) == wanted, 30,
             f"{topic} {key}={value}")


def test_an_existing_topic_gets_the_settings_of_its_spec(platform):
    p = platform
    client = topics.admin(p.settings)
    orders, quotes = p.topic("orders"), p.topic("quotes")
    # as a broker's defaults would have made them: 1 MB records, no compaction
    client.incremental_alter_configs([
        ConfigResource(ConfigResource.Type.TOPIC, orders, incremental_configs=[ConfigEntry(
            "max.message.bytes", "1048588", incremental_operation=AlterConfigOpType.SET)]),
        ConfigResource(ConfigResource.Type.TOPIC, quotes, incremental_configs=[ConfigEntry(
            "cleanup.policy", "delete", incremental_operation=AlterConfigOpType.SET)]),
    ])[ConfigResource(ConfigResource.Type.TOPIC, orders)].result()
    _settled(client, orders, "max.message.bytes", "1048588")
    _settled(client, quotes, "cleanup.policy", "delete")

    said: list[str] = []
    assert topics.ensure_topics(p.settings, say=said.append) == []  # none created
    assert sorted(said) == [f"topics: {orders}: setting max.message.bytes={64 * 1024 * 1024}",
                            f"topics: {quotes}: setting cleanup.policy=compact,delete"]
    _settled(client, orders, "max.message.bytes", str(64 * 1024 * 1024))
    _settled(client, quotes, "cleanup.policy", "compact,delete")
    said.clear()
    topics.ensure_topics(p.settings, say=said.append)
    assert said == []  # nothing left to set


def test_topics_and_changelogs_get_the_replication_of_the_cluster(platform):
    """On this one-broker cluster: one copy, one in sync; a changelog Faust made with other
    settings is brought to them; more copies than brokers is refused before anything."""
    p = platform
    client = topics.admin(p.settings)
    orders = p.topic("orders")
    meta = client.list_topics(orders, timeout=10).topics[orders]
    assert {len(part.replicas) for part in meta.partitions.values()} == {1}
    assert _setting(client, orders, "min.insync.replicas") == "1"

    changelog = f"{p.settings.app_id}-matcher-books-changelog"
    client.create_topics([NewTopic(changelog, 4, 1, config={"min.insync.replicas": "2"})]
                         )[changelog].result()
    _settled(client, changelog, "min.insync.replicas", "2")
    said: list[str] = []
    topics.ensure_topics(p.settings, say=said.append)
    assert said == [f"topics: {changelog}: setting min.insync.replicas=1"]
    _settled(client, changelog, "min.insync.replicas", "1")

    with pytest.raises(SystemExit, match="has 1 broker"):
        topics.ensure_topics(dataclasses.replace(p.settings, replication_factor=3))


def test_counts_that_disagree_are_warned_of_and_grow_brings_them_to_one(platform):
    """matcher-results with fewer partitions than orders (the matcher produces a symbol's
    results to the number of its home), a changelog unlike its source: `topics` warns;
    `topics --partitions N` raises every one below N (none above: refused, nothing
    changed)."""
    p = platform
    client = topics.admin(p.settings)
    orders, results = p.topic("orders"), p.topic("matcher-results")
    changelog = topics.changelog(p.settings, "matcher", "books")
    client.create_topics([NewTopic(changelog, 1, 1)])[changelog].result()
    client.create_partitions([NewPartitions(orders, 6)])[orders].result()
    topics.wait_for_leaders(client, [orders, changelog], 30)
    said: list[str] = []
    topics.ensure_topics(p.settings, say=said.append)
    assert said == [
        f"topics: warning: {results} has 4 partitions, fewer than {orders}'s 6: the matcher "
        f"produces a symbol's results to the number of its home partition; run `matchstream "
        f"topics --partitions 6`",
        f"topics: warning: {changelog} has 1 partitions, {orders} 6: a table's changelog "
        f"must have as many as its source; run `matchstream topics --partitions 6`"]

    with pytest.raises(PartitionsRefused, match=rf"cannot shrink to 5 partitions: {orders} "
                       r"has 6 \(Kafka cannot remove partitions; nothing was changed\)"):
        grow(p.settings, 5)
    named = [p.topic(t) for t in topics.GROWN] + [changelog]
    assert topics.counts(p.settings, named) == {
        p.topic("order-requests"): 4, orders: 6, results: 4, changelog: 1}

    assert grow(p.settings, 6, say=said.append) == {
        p.topic("order-requests"): (4, 6), results: (4, 6), changelog: (1, 6)}
    assert topics.counts(p.settings, named) == {name: 6 for name in named}
    said.clear()
    topics.ensure_topics(p.settings, say=said.append)
    assert said == []


def test_the_topics_command_grows_lists_and_refuses_to_shrink(platform):
    p = platform

    def topics_command(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "cli.main", "topics", *args],
                              cwd=REPO_ROOT, env=p.env(), capture_output=True, text=True,
                              timeout=120)

    grown = topics_command("--partitions", "5")
    assert grown.returncode == 0, grown.stderr
    for name in ("order-requests", "orders", "matcher-results"):
        assert f"topics: {p.topic(name)}: 4 -> 5 partitions" in grown.stdout
        assert re.search(rf"^{re.escape(p.topic(name))} +key=\w+ +partitions=5 ",
                         grown.stdout, re.M)
    assert re.search(rf"^{re.escape(p.topic('trades'))} +key=symbol +partitions=4 ",
                     grown.stdout, re.M)
    refused = topics_command("--partitions", "4")
    assert refused.returncode == 1
    assert "cannot shrink to 4 partitions" in refused.stderr
