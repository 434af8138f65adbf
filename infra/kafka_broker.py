"""The project's own Apache Kafka in KRaft mode, run from Maven Central jars: one broker,
or a cluster of N on this machine (each a broker and a controller, with its own ports,
folder and log)."""

from __future__ import annotations

import base64
import shutil
import subprocess
import time
import uuid
from pathlib import Path

from infra import process
from infra.replication import default_replication
from infra.settings import Settings, brokers_file

KAFKA_VERSION = "4.1.1"
CONF_DIR = Path(__file__).resolve().parent / "kafka"
READY_LINE = "Kafka Server started"
START_TIMEOUT_S = 120.0


class KafkaError(RuntimeError):
    pass


def libs_dir(settings: Settings) -> Path:
    return settings.cache / f"kafka-{KAFKA_VERSION}" / "libs"


def _state(settings: Settings, node: int = 1) -> Path:
    """Broker `node`'s folder; the first broker's is also the cluster's."""
    root = settings.home / "kafka"
    return root if node == 1 else root / f"node-{node}"


def data_dir(settings: Settings, node: int = 1) -> Path:
    """Broker `node`'s partitions and its controller's metadata log."""
    return _state(settings, node) / "data"


def nodes(settings: Settings) -> range:
    return range(1, settings.kafka_brokers + 1)


def pid_file(settings: Settings, node: int = 1) -> Path:
    return _state(settings, node) / "broker.pid"


def log_file(settings: Settings, node: int = 1) -> Path:
    return settings.log_dir / ("kafka.log" if node == 1 else f"kafka-{node}.log")


def set_cluster_size(settings: Settings, brokers: int) -> None:
    """Record how many brokers the project's cluster has; refuse to change it on a
    cluster that exists (its controllers' quorum is fixed when it is formatted)."""
    recorded = brokers_file(settings.home)
    if recorded.exists():
        current = int(recorded.read_text())
    elif (data_dir(settings) / "meta.properties").exists():
        current = 1
    else:
        current = brokers
    if current != brokers:
        raise KafkaError(
            f"{_state(settings)} holds a cluster of {current} broker(s); to make one of "
            f"{brokers}: `matchstream down`, delete that folder, then `up --brokers {brokers}`")
    recorded.parent.mkdir(parents=True, exist_ok=True)
    recorded.write_text(str(brokers))


def ensure_jars(settings: Settings, say=print) -> Path:
    """Fetch the broker jars with Maven once; later starts use the cache."""
    libs = libs_dir(settings)
    marker = libs / ".complete"
    if marker.exists():
        return libs
    if shutil.which("mvn") is None or shutil.which("java") is None:
        raise KafkaError("Kafka needs java (17+) and mvn on PATH to fetch the broker jars")
    say(f"fetching Kafka {KAFKA_VERSION} jars from Maven Central into {libs} ...")
    libs.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            "mvn", "-B", "-q", "-f", str(CONF_DIR / "pom.xml"),
            "dependency:copy-dependencies", "-DincludeScope=runtime",
            "-Dmdep.prependGroupId=true", f"-DoutputDirectory={libs}",
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise KafkaError(f"mvn failed to fetch the Kafka jars:\n{result.stdout}\n{result.stderr}")
    marker.write_text(KAFKA_VERSION)
    return libs


def _cluster_id(settings: Settings) -> str:
    """The id every broker of the project's cluster is formatted with."""
    path = _state(settings) / "cluster.id"
    if path.exists():
        return path.read_text().strip()
    # same shape as kafka-storage random-uuid: url-safe base64 of 16 bytes, not starting with '-'
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cid.startswith("-"):
            path.write_text(cid)
            return cid


def _write_server_properties(settings: Settings, node: int) -> Path:
    state = _state(settings, node)
    port = settings.broker_port(node)
    voters = ",".join(f"{n}@127.0.0.1:{settings.broker_port(n) + 1}" for n in nodes(settings))
    # the cluster's own topics (offsets, transactions) and its defaults, by its size
    internal = default_replication(settings.kafka_brokers)
    props = (CONF_DIR / "server.properties").read_text() + "\n".join(
        [
            "",
            "# written by infra/kafka_broker.py for this state directory (last value wins)",
            f"node.id={node}",
            f"controller.quorum.voters={voters}",
            f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{port + 1}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
            f"log.dirs={data_dir(settings, node)}",
            f"default.replication.factor={internal.factor}",
            f"min.insync.replicas={internal.min_insync}",
            f"offsets.topic.replication.factor={internal.factor}",
            f"transaction.state.log.replication.factor={internal.factor}",
            f"transaction.state.log.min.isr={internal.min_insync}",
            f"share.coordinator.state.topic.replication.factor={internal.factor}",
            f"share.coordinator.state.topic.min.isr={internal.min_insync}",
            "",
        ]
    )
    path = state / "server.properties"
    path.write_text(props)
    return path


def _java(libs: Path, log_config: str, heap: list[str]) -> list[str]:
    return [
        "java", *heap,
        "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={CONF_DIR / log_config}",
        "-cp", f"{libs}/*",
    ]


def _format_storage(settings: Settings, node: int, libs: Path, props: Path) -> None:
    if (data_dir(settings, node) / "meta.properties").exists():
        return
    result = subprocess.run(
        _java(libs, "tools-log4j2.yaml", ["-Xmx256m"])
        + ["kafka.tools.StorageTool", "format", "-t", _cluster_id(settings), "-c", str(props)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise KafkaError(f"formatting Kafka storage failed:\n{result.stdout}\n{result.stderr}")


def running_pid(settings: Settings, node: int = 1) -> int | None:
    """The pid of the project's broker `node`, if it is running."""
    return process.read_pid(pid_file(settings, node))


def is_running(settings: Settings) -> bool:
    return running_pid(settings) is not None


def start(settings: Settings, say=print) -> None:
    """Start the brokers of the project's cluster that are not running, and wait until
    the cluster serves groups."""
    stopped = [node for node in nodes(settings) if running_pid(settings, node) is None]
    if not stopped:
        say(f"kafka: already running on {settings.kafka_bootstrap}")
        return
    for node in stopped:
        if process.port_open(settings.broker_port(node)):
            raise KafkaError(
                f"port {settings.broker_port(node)} is taken by another process; "
                "set MATCHSTREAM_KAFKA_PORT or KAFKA_BOOTSTRAP")
    libs = ensure_jars(settings, say)
    starting = []
    for node in stopped:
        _state(settings, node).mkdir(parents=True, exist_ok=True)
        props = _write_server_properties(settings, node)
        _format_storage(settings, node, libs, props)
        log = log_file(settings, node)
        offset = log.stat().st_size if log.exists() else 0
        say(f"kafka: starting broker {node} ({KAFKA_VERSION}) on 127.0.0.1:"
            f"{settings.broker_port(node)} (log: {log})")
        pid = process.spawn(_java(libs, "log4j2.yaml", ["-Xms768m", "-Xmx768m"])
                            + ["kafka.Kafka", str(props)], log, pid_file(settings, node))
        starting.append((node, pid, log, offset))
    # a controller quorum forms only once most of its members run: start all, then wait
    for node, pid, log, offset in starting:
        _wait_ready(settings.broker_port(node), pid, log, offset)
    _wait_group_coordinator(settings)
    say("kafka: ready")


def _wait_ready(port: int, pid: int, log: Path, offset: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if not process.pid_alive(pid):
            raise KafkaError(f"a Kafka broker exited during start; its log:\n{process.tail(log)}")
        with open(log, "rb") as fh:
            fh.seek(offset)
            if READY_LINE.encode() in fh.read() and process.port_open(port):
                return
        time.sleep(0.25)
    raise KafkaError(f"a Kafka broker did not start in {START_TIMEOUT_S:.0f}s:\n"
                     f"{process.tail(log)}")


def _wait_group_coordinator(settings: Settings) -> None:
    """The broker answers before its group coordinator has loaded __consumer_offsets;
    a consumer that joins in between can hang (seen with aiokafka), so wait for it."""
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    probe = Consumer({"bootstrap.servers": settings.kafka_bootstrap,
                      "group.id": "matchstream-readiness", "enable.auto.commit": False})
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while True:
            try:
                probe.committed([TopicPartition("matchstream-readiness", 0)], timeout=10)
                return
            except KafkaException as exc:  # NOT_COORDINATOR / loading: not yet
                if time.monotonic() > deadline:
                    raise KafkaError(f"the broker's group coordinator is not ready: {exc}")
                time.sleep(0.5)
    finally:
        probe.close()


def stop(settings: Settings, say=print) -> None:
    stopped = [node for node in nodes(settings)
               if process.terminate(pid_file(settings, node), timeout=60)]
    if not stopped:
        say("kafka: not running")
    elif settings.kafka_brokers == 1:
        say("kafka: stopped")
    else:
        say(f"kafka: stopped broker(s) {', '.join(map(str, stopped))}")
