"""Growing the stages' input topics while the platform runs (`matchstream topics
--partitions N`).

Grown together: `order-requests` (the gate's input), `orders` (the matcher's) and
`matcher-results` (settlement's and the candles'), and the changelogs of the Faust
stages' tables: Faust assigns a table's changelog partition with the same number of its
source topic only when both have as many partitions (faust/assignor: topics are
co-partitioned by count), and the matcher writes a book to the changelog partition of its
`orders` partition. `matcher-results` must have at least as many partitions as `orders`:
the matcher produces a symbol's results to the number of its home partition
(streams/publish.py).

Nothing already listed moves: a symbol keeps its home partition (`symbols.home_partition`)
and its results keep that number, so every book, changelog entry and candle stays where it
is. Kafka cannot remove partitions, so a smaller count is refused.
"""

from __future__ import annotations

from confluent_kafka.admin import NewPartitions

from infra.settings import Settings
from infra.topics import (
    GROWN,
    admin,
    changelogs,
    counts,
    ensure_topics,
    wait_for_leaders,
)


class PartitionsRefused(ValueError):
    """A partition count that cannot be given: fewer than a topic has, or below 1."""


def grow(settings: Settings, partitions: int, say=print, timeout: float = 30.0
         ) -> dict[str, tuple[int, int]]:
    """Bring `order-requests`, `orders`, `matcher-results` and the changelogs that exist to
    `partitions` (creating missing topics first); {name: (before, after)} of those raised.
    Idempotent; raises PartitionsRefused, changing nothing, if any has more already."""
    if type(partitions) is not int or partitions < 1:
        raise PartitionsRefused(f"a partition count must be a whole number from 1, found "
                                f"{partitions!r}")
    ensure_topics(settings, say, timeout)
    # a changelog not made yet is made by its stage with its source's count then
    found = counts(settings, [settings.topic(name) for name in GROWN] + changelogs(settings),
                   timeout)
    names = list(found)
    larger = [f"{name} has {found[name]}" for name in names if found[name] > partitions]
    if larger:
        raise PartitionsRefused(
            f"cannot shrink to {partitions} partitions: {', '.join(larger)} (Kafka cannot "
            f"remove partitions; nothing was changed)")
    raise_ = [name for name in names if found[name] < partitions]
    if not raise_:
        say(f"topics: {', '.join(names)} have {partitions} partitions already")
        return {}
    # one request: the changelogs and their sources change together (a stage's consumer
    # that sees a source grown before its changelog rebalances them apart until both are)
    client = admin(settings)  # kept until the futures are done: its end fails them
    futures = client.create_partitions(
        [NewPartitions(name, partitions) for name in raise_], operation_timeout=timeout)
    for future in futures.values():
        future.result()
    wait_for_leaders(client, raise_, timeout, partitions)
    for name in raise_:
        say(f"topics: {name}: {found[name]} -> {partitions} partitions")
    return {name: (found[name], partitions) for name in raise_}
