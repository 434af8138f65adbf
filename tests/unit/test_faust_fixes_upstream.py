"""The upstream behaviour each patch in streams/runtime/faust_fixes/ relies on or works
around, checked against the installed faust-streaming, aiokafka and mode-streaming. No
Kafka: upstream objects are made with stubs where they would talk to a broker, and the
source is read only where the behaviour cannot be run without one.

A failure here means upstream changed: its message says what to do with the patch.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
from types import SimpleNamespace

import faust
import pytest
from aiokafka import client as aiokafka_client
from aiokafka.consumer import consumer as aiokafka_consumer
from aiokafka.consumer import fetcher as aiokafka_fetcher
from aiokafka.producer import producer as aiokafka_producer
from aiokafka.protocol.metadata import MetadataResponse_v0
from aiokafka.structs import TopicPartition
from faust.tables.recovery import Recovery
from faust.transport import consumer as faust_consumer
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.types import TP, Message
from mode import Service
from mode.services import WaitResults

from streams.runtime import faust_fixes
from streams.runtime.faust_fixes import eager_delivery, fetch_wait, producer_metadata
from streams.runtime.faust_fixes.recovery_watch import RecoveryWatch

FIXES = "streams/runtime/faust_fixes"


def faust_app() -> faust.App:
    """A Faust app that is never started: its consumer, tables and recovery are made, and
    nothing connects (call within a running loop)."""
    return faust.App("faust-fixes-probe", broker="kafka://127.0.0.1:1", store="memory://",
                     autodiscover=False, web_enabled=False)


# -- the versions ------------------------------------------------------------------------

def test_the_installed_versions_are_the_checked_ones():
    assert not faust_fixes.differing_versions(), (
        f"installed versions differ from {FIXES}/__init__.py CHECKED_VERSIONS: "
        f"{faust_fixes.differing_versions()}. Once the tests of this module pass, check each "
        "patch against its 'Upstream:' line, then update CHECKED_VERSIONS and the modules' "
        "'Checked against:' lines")


def test_install_warns_once_when_a_version_differs(monkeypatch, caplog):
    monkeypatch.setattr(faust_fixes.metadata, "version", lambda name: "99.0")
    with caplog.at_level(logging.WARNING, logger=faust_fixes.__name__):
        faust_fixes.install()
    [warning] = [r for r in caplog.records if r.name == faust_fixes.__name__]
    assert "faust-streaming 0.15.3" in warning.getMessage()


def test_install_puts_the_patches_in_place():
    faust_fixes.install()
    assert aiokafka_driver.Transport.Consumer is eager_delivery.Consumer
    assert aiokafka_consumer.Fetcher is fetch_wait.Fetcher
    assert aiokafka_producer.AIOKafkaClient is producer_metadata.Client
    assert aiokafka_driver.Producer._producer_type.fget(None) is producer_metadata.Producer


# -- eager delivery ----------------------------------------------------------------------

def test_faust_hands_each_record_to_the_callback_through_wait_first():
    source = inspect.getsource(faust_consumer.Consumer._drain_messages)
    assert re.search(r"await self\.wait_first\(\s*callback\(message\),\s*"
                     r"self\.suspend_flow\.wait\(\)\s*\)", source), (
        "Faust's Consumer._drain_messages no longer delivers each record with "
        "self.wait_first(callback(message), self.suspend_flow.wait()): "
        f"{FIXES}/eager_delivery.py no longer applies; read the new loop, then drop the patch "
        "(or port it) and re-measure the Faust stages' CPU (README 'Performance')")
    assert "_drain_messages" not in vars(aiokafka_driver.Consumer), (
        "Faust's aiokafka Consumer overrides _drain_messages now: re-check "
        f"{FIXES}/eager_delivery.py against it")


def test_faust_makes_its_consumer_from_transport_consumer():
    eager_delivery.install()

    async def made():
        return type(faust_app().consumer)

    assert eager_delivery.Consumer.__bases__ == (aiokafka_driver.Consumer,)
    assert asyncio.run(made()) is eager_delivery.Consumer, (
        "a Faust app no longer makes its consumer from "
        "faust.transport.drivers.aiokafka.Transport.Consumer: find where it does and make "
        f"{FIXES}/eager_delivery.py install() replace that")


def test_mode_wait_first_answers_with_wait_results():
    assert WaitResults._fields == ("done", "results", "stopped"), (
        f"mode's WaitResults changed: {FIXES}/eager_delivery.py builds it by position")

    async def scenario():
        service = Service()

        async def deliver():
            return "queued"

        coro = deliver()
        won = await service.wait_first(coro, asyncio.Event().wait())
        service._stopped.set()
        stopped = await service.wait_first(deliver())
        return coro, won, stopped

    coro, won, stopped = asyncio.run(scenario())
    assert isinstance(won, WaitResults) and won.done == [coro] and won.results == ["queued"] \
        and won.stopped is False, (
            f"mode's Service.wait_first answers {won!r} now: make "
            f"{FIXES}/eager_delivery.py wait_first_eagerly answer the same way")
    assert stopped == WaitResults([], [], True), (
        f"a stopped service's wait_first answers {stopped!r} now: make "
        f"{FIXES}/eager_delivery.py wait_first_eagerly answer the same way")


# -- fetch wait --------------------------------------------------------------------------

ORDERS_0, ORDERS_1 = TopicPartition("orders", 0), TopicPartition("orders", 1)


def actions_per_node(fetcher_class, records, monkeypatch) -> list[int]:
    """The max wait of each fetch request `fetcher_class._get_actions_per_node` builds for
    partitions orders[0] and orders[1] on broker 1, with `records` buffered."""
    waits: list[int] = []

    def request(max_wait_ms, *args, **kwargs):
        waits.append(max_wait_ms)
        return SimpleNamespace()

    monkeypatch.setattr(aiokafka_fetcher, "FetchRequest", request)
    fetcher = object.__new__(fetcher_class)  # no client, no fetch task
    cluster = SimpleNamespace(leader_for_partition=lambda tp: 1,
                              broker_metadata=lambda node_id: None)
    fetcher.__dict__.update(
        _client=SimpleNamespace(cluster=cluster), _records=records, _in_flight=set(),
        _preferred_read_replica={}, _fetch_max_wait_ms=1500, _fetch_min_bytes=1,
        _fetch_max_bytes=52428800, _max_partition_fetch_bytes=1048576,
        _isolation_level=0, _client_rack=None, _fetcher_timeout=0.2)
    state = SimpleNamespace(has_valid_position=True, paused=False, position=5)
    assignment = SimpleNamespace(tps=[ORDERS_0, ORDERS_1], state_value=lambda tp: state)
    try:
        fetcher._get_actions_per_node(assignment)
    except AttributeError as exc:
        pytest.fail(f"aiokafka's Fetcher._get_actions_per_node reads other state now ({exc}): "
                    f"re-check {FIXES}/fetch_wait.py, which sets _fetch_max_wait_ms before it")
    return waits


def test_aiokafka_builds_each_fetch_request_from_fetch_max_wait_ms(monkeypatch):
    assert "_get_actions_per_node" in vars(aiokafka_fetcher.Fetcher), (
        "aiokafka's Fetcher has no _get_actions_per_node: find where fetch requests are "
        f"built now and move {FIXES}/fetch_wait.py there")
    assert actions_per_node(aiokafka_fetcher.Fetcher, {}, monkeypatch) == [1500], (
        "aiokafka's FetchRequest no longer takes its max wait from Fetcher._fetch_max_wait_ms: "
        f"{FIXES}/fetch_wait.py sets it in vain; find the new source of the wait")


def test_the_patched_fetcher_waits_short_while_input_is_buffered(monkeypatch):
    buffered = {ORDERS_0: SimpleNamespace(calculate_backoff=lambda: 0)}
    assert actions_per_node(fetch_wait.Fetcher, buffered, monkeypatch) == [
        fetch_wait.FETCH_MAX_WAIT_MS]
    assert actions_per_node(fetch_wait.Fetcher, {}, monkeypatch) == [
        fetch_wait.IDLE_FETCH_MAX_WAIT_MS]


def test_aiokafka_consumer_makes_its_fetcher_from_the_module_name():
    start = aiokafka_consumer.AIOKafkaConsumer.start
    assert start.__globals__ is vars(aiokafka_consumer) \
        and "Fetcher" in start.__code__.co_names, (
            "AIOKafkaConsumer.start no longer makes its fetcher from aiokafka.consumer.consumer's "
            f"module-level Fetcher: {FIXES}/fetch_wait.py install() no longer takes effect")
    assert aiokafka_driver.aiokafka.AIOKafkaConsumer is aiokafka_consumer.AIOKafkaConsumer, (
        "Faust's driver makes another consumer class than aiokafka.consumer.consumer's: "
        f"re-check {FIXES}/fetch_wait.py install()")


# -- producer metadata -------------------------------------------------------------------

def metadata_response(*topics: str) -> MetadataResponse_v0:
    """A broker's answer: broker 1 leads partition 0 of each topic."""
    return MetadataResponse_v0([(1, "127.0.0.1", 1)],
                               [(0, topic, [(0, 0, 1, [1], [1])]) for topic in topics])


def test_aiokafka_does_not_track_a_topic_it_already_knows():
    async def scenario(client_class):
        client = client_class(bootstrap_servers="127.0.0.1:1")
        client.cluster.update_metadata(metadata_response("known"))  # a refresh of every topic
        assert await client._wait_on_metadata("known") == {0}
        return client._topics

    assert "known" not in asyncio.run(scenario(aiokafka_client.AIOKafkaClient)), (
        "aiokafka now tracks a topic it knew before its first send: drop "
        f"{FIXES}/producer_metadata.py (and its install in faust_fixes.install())")
    assert "known" in asyncio.run(scenario(producer_metadata.Client))


def test_an_aiokafka_refresh_asks_for_the_tracked_topics_and_replaces_the_view(monkeypatch):
    asked = []

    class Connection:
        async def send(self, request):
            asked.append(request)
            return metadata_response(*request[1])

    async def get_conn(node_id, *args, **kwargs):
        return Connection()

    monkeypatch.setattr(aiokafka_client, "MetadataRequest",
                        lambda topics=None, *args, **kwargs: ("metadata", topics))

    async def scenario():
        client = aiokafka_client.AIOKafkaClient(bootstrap_servers="127.0.0.1:1")
        client._get_conn = get_conn
        client.cluster.update_metadata(metadata_response("known", "other"))
        client.add_topic("other")  # tracked: unknown at its first send
        await client._metadata_update(client.cluster, client._topics)
        return client.cluster.partitions_for_topic("known")

    assert asyncio.run(scenario()) is None and asked == [("metadata", ["other"])], (
        "an aiokafka metadata refresh no longer drops the topics it was not asked for: "
        f"{FIXES}/producer_metadata.py may no longer be needed; check with "
        "tests/integration/test_producer_metadata.py without the patch")


def test_aiokafka_producer_makes_its_client_from_the_module_name():
    init = aiokafka_producer.AIOKafkaProducer.__init__
    assert init.__globals__ is vars(aiokafka_producer) \
        and "AIOKafkaClient" in init.__code__.co_names, (
            "AIOKafkaProducer no longer makes its client from aiokafka.producer.producer's "
            f"module-level AIOKafkaClient: {FIXES}/producer_metadata.py install() no longer "
            "takes effect")
    assert aiokafka_driver.aiokafka.AIOKafkaProducer is aiokafka_producer.AIOKafkaProducer, (
        "Faust's driver makes another producer class than aiokafka.producer.producer's: "
        f"re-check {FIXES}/producer_metadata.py install()")
    assert "return self._producer_type(" in inspect.getsource(
        aiokafka_driver.Producer._new_producer), (
        "Faust no longer makes its producer from Producer._producer_type: "
        f"{FIXES}/producer_metadata.py install() no longer gives it its Producer")


def test_aiokafka_refuses_a_partition_its_metadata_lacks_and_producer_refreshes_first(
        monkeypatch):
    sent = []

    async def base_send(self, topic, value=None, key=None, partition=None, timestamp_ms=None,
                        headers=None):
        self._partition(topic, partition, key, value, key, value)  # aiokafka's check
        sent.append(partition)

    async def refresh(self):
        self.cluster.update_metadata(MetadataResponse_v0(
            [(1, "127.0.0.1", 1)],
            [(0, "grown", [(0, p, 1, [1], [1]) for p in (0, 1)])]))  # partition 1 added
        return True

    monkeypatch.setattr(aiokafka_producer.AIOKafkaProducer, "send", base_send)
    monkeypatch.setattr(aiokafka_client.AIOKafkaClient, "force_metadata_update", refresh)

    async def scenario(producer_class):
        producer = producer_class(bootstrap_servers="127.0.0.1:1")
        producer.client.cluster.update_metadata(metadata_response("grown"))  # partition 0
        try:
            await producer.send("grown", b"v", key=b"k", partition=1)
        except AssertionError as exc:
            return str(exc)
        return None

    assert asyncio.run(scenario(aiokafka_producer.AIOKafkaProducer)) == \
        "Unrecognized partition", (
            "aiokafka's producer no longer refuses a partition its metadata lacks: "
            f"{FIXES}/producer_metadata.py Producer may no longer be needed")
    assert asyncio.run(scenario(producer_metadata.Producer)) is None and sent == [1]


# -- position guard ----------------------------------------------------------------------

def acked(app: faust.App, tp: TP, *offsets: int) -> None:
    """Acknowledge records of `tp` at `offsets` as a stream does, through Consumer.ack."""
    app.topics.acks_enabled_for = lambda topic: True
    for offset in offsets:
        app.consumer.ack(Message(tp.topic, tp.partition, offset, 0.0, 0, None, b"k", b"v",
                                 None, tp=tp))


GUARD = (f"{FIXES}/position_guard.py reads a partition without a stored position from its "
         "start because of this; re-check that (PositionGuard's docstring) and README "
         "'Processing guarantees'")


def test_faust_commits_past_records_never_acknowledged_when_nothing_is_committed():
    tp = TP("orders", 0)

    async def scenario():
        app = faust_app()
        acked(app, tp, 3, 4)  # records 0..2 were never acknowledged
        return app.consumer._committed_offset[tp], app.consumer._new_offset(tp)

    committed, offset = asyncio.run(scenario())
    assert committed is None
    assert offset == 5, (
        f"with nothing committed, Faust's Consumer._new_offset now answers {offset} for "
        f"acknowledgements 3, 4 (it committed 5, past records 0..2). {GUARD}")


def test_faust_commits_past_an_unacknowledged_record_at_its_committed_offset():
    tp = TP("orders", 0)

    async def scenario():
        app = faust_app()
        app.consumer._committed_offset[tp] = 31  # as perform_seek sets it: the next to read
        acked(app, tp, 32, 33)  # record 31 never acknowledged
        return app.consumer._new_offset(tp)

    offset = asyncio.run(scenario())
    assert offset == 34, (
        "Faust's Consumer._new_offset now treats an unacknowledged record at the committed "
        f"offset as a gap (answers {offset}, was 34). The position guard stays while "
        "faust-streaming #221 and #312 hold; re-check its docstring")


def test_faust_counts_offsets_missing_from_its_delivery_as_done():
    tp = TP("orders", 0)

    async def scenario():
        app = faust_app()
        app.consumer._committed_offset[tp] = 10
        await app.consumer._add_gap(tp, 11, 13)  # what _drain_messages adds for 10 then 14
        acked(app, tp, 10, 14)
        return app.consumer._new_offset(tp)

    offset = asyncio.run(scenario())
    assert offset == 15, (
        f"Faust no longer commits past offsets it never delivered (answers {offset}, was 15): "
        f"records it skips might now come again after a restart; {FIXES}/position_guard.py "
        "still guards against them, re-check whether it is still needed")
    source = inspect.getsource(faust_consumer.Consumer._drain_messages)
    assert "self._add_gap(tp, r_offset + 1, offset)" in source, (
        "Faust's consumer loop no longer records a jump in delivered offsets as a gap: "
        f"re-check {FIXES}/position_guard.py's docstring")


def test_faust_forgets_a_revoked_partitions_bookkeeping():
    """What README 'Processing guarantees' and the stages rely on: a revoked partition's
    acknowledgements and offsets are dropped (the guards forget their positions on the
    same signal, app.on_partitions_revoked)."""
    tp = TP("orders", 0)

    async def scenario():
        app = faust_app()
        consumer = app.consumer
        consumer._committed_offset[tp] = 10
        consumer._read_offset[tp] = 12
        acked(app, tp, 11)
        await consumer._add_gap(tp, 13, 14)

        async def revoked_callback(revoked):
            pass

        consumer._on_partitions_revoked = revoked_callback  # the app's, not under test
        await consumer.on_partitions_revoked({tp})
        return app, [tp in bookkeeping for bookkeeping in (
            consumer._acked, consumer._read_offset, consumer._committed_offset, consumer._gap)]

    app, kept = asyncio.run(scenario())
    assert kept == [False] * 4, (
        "Faust's Consumer.on_partitions_revoked keeps a revoked partition's bookkeeping now: "
        "re-check README 'Processing guarantees' and the stages' on_partitions_revoked "
        f"handlers ({FIXES}/position_guard.py PositionGuard.forget)")
    for signal in ("on_partitions_revoked", "on_partitions_assigned"):
        assert hasattr(app, signal) and hasattr(getattr(app, signal), "connect"), (
            f"faust.App has no {signal} signal: the stages forget their guards' positions "
            "on it (streams/matcher.py, settlement.py, candles.py)")


# -- recovery watch ----------------------------------------------------------------------

RECOVERY_ATTRIBUTES = ("_recovery_started_at", "_active_events_received_at", "active_remaining",
                       "active_offsets", "active_highwaters", "in_recovery")
CONSUMER_ATTRIBUTES = ("_read_offset", "_active_partitions", "_paused_partitions",
                       "flow_active", "seek_wait", "resume_partitions", "position")


def test_faust_recovery_and_consumer_have_what_the_watch_reads():
    async def scenario():
        app = faust_app()
        return app.tables.recovery, app.consumer

    recovery, consumer = asyncio.run(scenario())
    assert isinstance(recovery, Recovery)
    for name in RECOVERY_ATTRIBUTES:
        assert hasattr(recovery, name), (
            f"faust's Recovery has no {name} now: {FIXES}/recovery_watch.py reads it; find "
            "what replaced it, or drop the watch if Faust now detects a stalled recovery")
    for name in CONSUMER_ATTRIBUTES:
        assert hasattr(consumer, name), (
            f"faust's Consumer has no {name} now: {FIXES}/recovery_watch.py reads or calls it")


def test_the_watch_seeks_a_stalled_faust_recovery_back():
    """The watch run on Faust's own Recovery and Consumer: a partition with records left
    and none received is sought back to where the recovery stands."""
    tp = TP("matchstream-matcher-books-changelog", 0)
    sought = []

    async def scenario():
        app = faust_app()
        recovery, consumer = app.tables.recovery, app.consumer
        recovery._set_recovery_started()
        recovery._recovery_started_at -= 100.0  # started 100 s ago, nothing received since
        recovery.active_offsets[tp], recovery.active_highwaters[tp] = 3, 10
        consumer.pause_partitions([tp])

        async def seek_wait(partitions):  # the real one needs a running consumer thread
            sought.append(dict(partitions))

        async def position(tp):
            return 3

        consumer.seek_wait, consumer.position = seek_wait, position
        await RecoveryWatch("matcher", stall_s=45.0).check(app)
        return consumer

    consumer = asyncio.run(scenario())
    assert sought == [{tp: 3}], (
        f"the recovery watch did not seek a stalled partition back ({sought}): Faust's "
        f"Recovery reports progress differently now; re-check {FIXES}/recovery_watch.py")
    assert tp not in consumer._paused_partitions and tp in consumer._active_partitions
