"""`matchstream up` / `topics` bring an existing topic's settings to its spec: a topic
made by an older version keeps working with today's records."""

from __future__ import annotations

from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource

from infra import topics


def _setting(client, topic: str, key: str) -> str:
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    return client.describe_configs([resource])[resource].result()[key].value


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
    assert _setting(client, orders, "max.message.bytes") == "1048588"

    said: list[str] = []
    assert topics.ensure_topics(p.settings, say=said.append) == []  # none created
    assert sorted(said) == [f"topics: {orders}: setting max.message.bytes={64 * 1024 * 1024}",
                            f"topics: {quotes}: setting cleanup.policy=compact,delete"]
    assert _setting(client, orders, "max.message.bytes") == str(64 * 1024 * 1024)
    assert sorted(_setting(client, quotes, "cleanup.policy").split(",")) == ["compact", "delete"]
    said.clear()
    topics.ensure_topics(p.settings, say=said.append)
    assert said == []  # nothing left to set
