"""Every topic of the platform in one place, and an idempotent command that creates them
and brings an existing topic's settings (cleanup policy, record size) to the spec's."""

from __future__ import annotations

import time
from dataclasses import dataclass

from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
)

from infra.replication import Replication, replication_for
from infra.settings import Settings

PARTITIONS = 4  # the unit of parallelism: room for a few workers on a small machine


@dataclass(frozen=True)
class TopicSpec:
    name: str
    key: str
    partitions: int = PARTITIONS
    cleanup: str = "delete"
    purpose: str = ""
    max_message_bytes: int | None = None


TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec("order-requests", "account", purpose="NewOrder / CancelOrder from clients"),
    # a gate batch's record may pass a broker's 1 MB default; the matcher dead-letters
    # one over its decoder's limit (schemas/codec.py ORDER_BATCH)
    TopicSpec("orders", "symbol", purpose="accepted orders and cancels, gate -> matcher "
              "(internal)", max_message_bytes=64 * 1024 * 1024),
    TopicSpec("order-events", "account", purpose="accepted, rejected, filled, cancelled"),
    TopicSpec("trades", "symbol", purpose="every execution, settled in PostgreSQL"),
    TopicSpec("quotes", "symbol", cleanup="compact,delete", purpose="best bid/ask and last"),
    TopicSpec("book", "symbol", purpose="L2 depth changes"),
    TopicSpec("halts", "symbol", cleanup="compact,delete", purpose="circuit breaker"),
    TopicSpec("candles", "symbol", cleanup="compact,delete", purpose="OHLCV updates"),
    TopicSpec("matcher-results", "symbol",
              purpose="per symbol and matcher batch: trades, releases, halts (internal: "
              "settlement and candles)", max_message_bytes=64 * 1024 * 1024),
    TopicSpec("dead-letters", "source topic", partitions=1,
              purpose="records that could not be decoded, with topic/partition/offset"),
)

BY_NAME = {spec.name: spec for spec in TOPICS}

# the stages' inputs, grown together (infra/partitions.py)
GROWN = ("order-requests", "orders", "matcher-results")
# (stage, table, source topic) of the Faust stages' tables: a changelog is
# `{group id}-{table}-changelog`, the group id `{app id}-{stage}` (streams/runtime/stages.py
# group_id); tables/ defines each table, reading its source's count when the stage starts
CHANGELOGS = (("matcher", "books", "orders"),
              ("settlement", "settlement-positions", "matcher-results"),
              ("settlement", "open-candles", "matcher-results"))


def changelog(settings: Settings, stage: str, table: str) -> str:
    return f"{settings.app_id}-{stage}-{table}-changelog"


def changelogs(settings: Settings) -> list[str]:
    return [changelog(settings, stage, table) for stage, table, _ in CHANGELOGS]


def counts(settings: Settings, names: list[str], timeout: float = 30.0) -> dict[str, int]:
    """Partitions of those of the topics `names` (full names) that exist."""
    topics = admin(settings).list_topics(timeout=timeout).topics
    return _counts(topics, names)


def _counts(topics: dict, names: list[str]) -> dict[str, int]:
    return {name: len(topics[name].partitions) for name in names
            if name in topics and topics[name].error is None and topics[name].partitions}


def mismatches(settings: Settings, found: dict[str, int]) -> list[str]:
    """What disagrees among the counts `found` (by full name): `matcher-results` with fewer
    partitions than `orders` (the matcher produces a symbol's results to the number of its
    home partition), a changelog with another count than its source topic."""
    out = []
    orders, results = settings.topic("orders"), settings.topic("matcher-results")
    if orders in found and results in found and found[results] < found[orders]:
        out.append(f"{results} has {found[results]} partitions, fewer than {orders}'s "
                   f"{found[orders]}: the matcher produces a symbol's results to the number "
                   f"of its home partition; run `matchstream topics --partitions "
                   f"{found[orders]}`")
    for stage, table, source in CHANGELOGS:
        name, source = changelog(settings, stage, table), settings.topic(source)
        if name in found and source in found and found[name] != found[source]:
            out.append(f"{name} has {found[name]} partitions, {source} {found[source]}: a "
                       f"table's changelog must have as many as its source; run "
                       f"`matchstream topics --partitions {max(found[name], found[source])}`")
    return out



def admin(settings: Settings) -> AdminClient:
    return AdminClient({"bootstrap.servers": settings.kafka_bootstrap})


def ensure_topics(settings: Settings, say=print, timeout: float = 30.0) -> list[str]:
    """Create missing topics (with their spec's partitions), set the spec's settings on
    existing ones (and the replication's on the Faust stages' changelogs); warn of partition
    counts that disagree (`mismatches`) and of fewer replicas than the replication's."""
    client = admin(settings)
    meta = client.list_topics(timeout=timeout)
    existing = meta.topics
    replication = replication_for(settings, len(meta.brokers))
    wanted = {settings.topic(spec.name): spec for spec in TOPICS}
    missing = [
        NewTopic(name, spec.partitions, replication.factor,
                 config=_config(spec, replication))
        for name, spec in wanted.items()
        if name not in existing
    ]
    for name, spec in wanted.items():
        if name not in existing:
            continue
        copies = min(len(p.replicas) for p in existing[name].partitions.values())
        if copies < replication.factor:
            say(f"topics: warning: {name} has {copies} replica(s) per partition, expected "
                f"{replication.factor}: add them with kafka-reassign-partitions.sh")
    for problem in mismatches(settings, _counts(existing, [*wanted, *changelogs(settings)])):
        say(f"topics: warning: {problem}")
    configs = {name: _config(spec, replication) for name, spec in wanted.items()
               if name in existing}
    configs.update({name: replication.topic_config() for name in existing
                    if name.startswith(settings.app_id + "-") and name.endswith("-changelog")})
    _align_configs(client, configs, say, timeout)
    if missing:
        for name, future in client.create_topics(missing, operation_timeout=timeout).items():
            try:
                future.result()
            except Exception as exc:  # TOPIC_ALREADY_EXISTS from a concurrent creator is fine
                if "TOPIC_ALREADY_EXISTS" not in str(exc):
                    raise
        say(f"topics: created {', '.join(t.topic for t in missing)}")
        wait_for_leaders(client, [t.topic for t in missing], timeout)
    return [t.topic for t in missing]


def partition_count(settings: Settings, name: str, timeout: float = 30.0) -> int:
    """How many partitions topic `name` has on the broker; its spec's count while it does
    not exist yet (it will be made with that many)."""
    full = settings.topic(name)
    # every topic's metadata: asking for one by name may make the broker create it
    found = admin(settings).list_topics(timeout=timeout).topics.get(full)
    if found is None or found.error is not None or not found.partitions:
        return BY_NAME[name].partitions
    return len(found.partitions)


def delete_namespace_topics(settings: Settings, say=print, timeout: float = 30.0) -> int:
    """Delete a namespace's topics: the platform's and its Faust stages' (changelogs and
    the like, named after the app id). Best effort: a failure is said, not raised."""
    if not settings.namespace:
        raise ValueError("refusing to delete the topics of the default namespace")
    client = admin(settings)
    names = [t for t in client.list_topics(timeout=timeout).topics
             if t.startswith((settings.namespace + ".", settings.app_id + "-"))]
    if not names:
        return 0
    for name, future in client.delete_topics(names, operation_timeout=timeout).items():
        try:
            future.result()
        except Exception as exc:
            say(f"topics: could not delete {name}: {exc}")
    return len(names)


def _config(spec: TopicSpec, replication: Replication) -> dict[str, str]:
    config = {"cleanup.policy": spec.cleanup, **replication.topic_config()}
    if spec.max_message_bytes:
        config["max.message.bytes"] = str(spec.max_message_bytes)
    return config


def _align_configs(client: AdminClient, configs: dict[str, dict[str, str]], say,
                   timeout: float) -> None:
    """Set on each existing topic the settings it should have and does not (a topic made
    by an older version, or by hand)."""
    if not configs:
        return
    described = client.describe_configs(
        [ConfigResource(ConfigResource.Type.TOPIC, name) for name in configs],
        request_timeout=timeout)
    changes = []
    for resource, future in described.items():
        current = future.result()
        differ = {key: value for key, value in configs[resource.name].items()
                  if key not in current or _normal(current[key].value) != _normal(value)}
        if differ:
            say(f"topics: {resource.name}: setting " + ", ".join(
                f"{key}={value}" for key, value in differ.items()))
            changes.append(ConfigResource(
                ConfigResource.Type.TOPIC, resource.name, incremental_configs=[
                    ConfigEntry(key, value, incremental_operation=AlterConfigOpType.SET)
                    for key, value in differ.items()]))
    if changes:
        for future in client.incremental_alter_configs(
                changes, request_timeout=timeout).values():
            future.result()


def _normal(value: str | None) -> str | None:
    """A list setting's items in a fixed order ("compact,delete" == "delete,compact")."""
    return ",".join(sorted(value.split(","))) if value else value


def wait_for_leaders(client: AdminClient, names: list[str], timeout: float,
                     partitions: int | None = None) -> None:
    """A new topic (or partition) answers NOT_LEADER until it has a leader: wait for that,
    and for each topic to show `partitions` partitions when given."""
    deadline = time.monotonic() + timeout
    while True:
        topics = client.list_topics(timeout=timeout).topics
        if all(name in topics and topics[name].partitions
               and len(topics[name].partitions) >= (partitions or 0) and all(
                p.leader >= 0 for p in topics[name].partitions.values()) for name in names):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"topics without a leader after {timeout:.0f}s: {names}")
        time.sleep(0.2)
