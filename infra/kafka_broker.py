"""A single-node Apache Kafka broker in KRaft mode, run from Maven Central jars."""

from __future__ import annotations

import base64
import shutil
import subprocess
import time
import uuid
from pathlib import Path

from infra import process
from infra.settings import Settings

KAFKA_VERSION = "4.1.1"
CONF_DIR = Path(__file__).resolve().parent / "kafka"
READY_LINE = "Kafka Server started"
START_TIMEOUT_S = 120.0


class KafkaError(RuntimeError):
    pass


def libs_dir(settings: Settings) -> Path:
    return settings.cache / f"kafka-{KAFKA_VERSION}" / "libs"


def _state(settings: Settings) -> Path:
    return settings.home / "kafka"


def pid_file(settings: Settings) -> Path:
    return _state(settings) / "broker.pid"


def log_file(settings: Settings) -> Path:
    return settings.log_dir / "kafka.log"


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


def _cluster_id() -> str:
    # same shape as kafka-storage random-uuid: url-safe base64 of 16 bytes, not starting with '-'
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cid.startswith("-"):
            return cid


def _write_server_properties(settings: Settings) -> Path:
    state = _state(settings)
    controller_port = settings.kafka_port + 1
    props = (CONF_DIR / "server.properties").read_text() + "\n".join(
        [
            "",
            "# written by infra/kafka_broker.py for this state directory",
            f"controller.quorum.voters=1@127.0.0.1:{controller_port}",
            f"listeners=PLAINTEXT://127.0.0.1:{settings.kafka_port},"
            f"CONTROLLER://127.0.0.1:{controller_port}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{settings.kafka_port}",
            f"log.dirs={state / 'data'}",
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


def _format_storage(settings: Settings, libs: Path, props: Path) -> None:
    if (_state(settings) / "data" / "meta.properties").exists():
        return
    result = subprocess.run(
        _java(libs, "tools-log4j2.yaml", ["-Xmx256m"])
        + ["kafka.tools.StorageTool", "format", "-t", _cluster_id(), "-c", str(props)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise KafkaError(f"formatting Kafka storage failed:\n{result.stdout}\n{result.stderr}")


def running_pid(settings: Settings) -> int | None:
    """The pid of the broker this project runs, if it is running."""
    return process.read_pid(pid_file(settings))


def is_running(settings: Settings) -> bool:
    return running_pid(settings) is not None


def start(settings: Settings, say=print) -> None:
    if is_running(settings):
        say(f"kafka: already running on {settings.kafka_bootstrap}")
        return
    if process.port_open(settings.kafka_port):
        raise KafkaError(
            f"port {settings.kafka_port} is taken by another process; "
            "set MATCHSTREAM_KAFKA_PORT or KAFKA_BOOTSTRAP"
        )
    libs = ensure_jars(settings, say)
    _state(settings).mkdir(parents=True, exist_ok=True)
    props = _write_server_properties(settings)
    _format_storage(settings, libs, props)
    log = log_file(settings)
    offset = log.stat().st_size if log.exists() else 0
    say(f"kafka: starting broker {KAFKA_VERSION} on {settings.kafka_bootstrap} (log: {log})")
    pid = process.spawn(_java(libs, "log4j2.yaml", ["-Xms768m", "-Xmx768m"]) + ["kafka.Kafka", str(props)], log,
                        pid_file(settings))
    _wait_ready(settings, pid, log, offset)
    _wait_group_coordinator(settings)
    say("kafka: ready")


def _wait_ready(settings: Settings, pid: int, log: Path, offset: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if not process.pid_alive(pid):
            raise KafkaError(f"the Kafka broker exited during start; its log:\n{process.tail(log)}")
        with open(log, "rb") as fh:
            fh.seek(offset)
            if READY_LINE.encode() in fh.read() and process.port_open(settings.kafka_port):
                return
        time.sleep(0.25)
    raise KafkaError(f"the Kafka broker did not start in {START_TIMEOUT_S:.0f}s:\n"
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
    if process.terminate(pid_file(settings), timeout=60):
        say("kafka: stopped")
    else:
        say("kafka: not running")
