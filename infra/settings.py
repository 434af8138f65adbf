"""Where the platform finds its services, read once from the environment.

KAFKA_BOOTSTRAP / DATABASE_URL point at existing services; when they are set, nothing
is started locally. Otherwise the project runs its own Kafka (one broker, or as many as
`matchstream up --brokers N` asked for) and PostgreSQL under MATCHSTREAM_HOME, on ports
that do not clash with services a user already runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

DEFAULT_KAFKA_PORT = 39092
DEFAULT_PG_PORT = 35432
DATABASE_NAME = "matchstream"
DATABASE_USER = "matchstream"


@dataclass(frozen=True)
class Settings:
    home: Path
    cache: Path
    kafka_port: int  # the first broker's; broker n listens on kafka_port + 10 * (n - 1)
    pg_port: int
    external_kafka: str | None
    external_database_url: str | None
    read_database_url: str | None
    namespace: str
    kafka_brokers: int = 1  # brokers of the project's own cluster (`up --brokers N`)
    # None: chosen from the cluster's size (infra/replication.py)
    replication_factor: int | None = None
    min_insync_replicas: int | None = None

    @property
    def manages_kafka(self) -> bool:
        return self.external_kafka is None

    @property
    def manages_postgres(self) -> bool:
        return self.external_database_url is None

    @property
    def kafka_bootstrap(self) -> str:
        return self.external_kafka or ",".join(
            f"127.0.0.1:{self.broker_port(node)}" for node in range(1, self.kafka_brokers + 1))

    def broker_port(self, node: int) -> int:
        """The client port of the project's broker `node` (1-based); its controller's is
        the next one."""
        return self.kafka_port + 10 * (node - 1)

    @property
    def database_url(self) -> str:
        if self.external_database_url:
            return self.external_database_url
        return (
            f"postgresql+psycopg://{DATABASE_USER}@127.0.0.1:{self.pg_port}/{DATABASE_NAME}"
        )

    @property
    def log_dir(self) -> Path:
        return self.home / "log"

    def topic(self, name: str) -> str:
        """Topic names carry the namespace so test runs never share topics."""
        return f"{self.namespace}.{name}" if self.namespace else name

    @property
    def app_id(self) -> str:
        return f"matchstream-{self.namespace}" if self.namespace else "matchstream"


def _int_env(name: str, default: int | None, what: str = "an integer port number") -> int | None:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be {what}, found {raw!r}") from None
    if value < 1:
        raise SystemExit(f"{name} must be {what}, found {raw!r}")
    return value


def brokers_file(home: Path) -> Path:
    """Where `matchstream up --brokers N` records the size of the project's cluster."""
    return home / "kafka" / "brokers"


def _kafka_brokers(home: Path) -> int:
    if os.environ.get("MATCHSTREAM_KAFKA_BROKERS"):
        return _int_env("MATCHSTREAM_KAFKA_BROKERS", 1, "a positive number of brokers")
    recorded = brokers_file(home)
    return int(recorded.read_text()) if recorded.exists() else 1


def load() -> Settings:
    home = Path(os.environ.get("MATCHSTREAM_HOME") or REPO_ROOT / "var").resolve()
    cache = Path(os.environ.get("MATCHSTREAM_CACHE") or REPO_ROOT / ".cache").resolve()
    return Settings(
        home=home,
        cache=cache,
        kafka_port=_int_env("MATCHSTREAM_KAFKA_PORT", DEFAULT_KAFKA_PORT),
        kafka_brokers=_kafka_brokers(home),
        pg_port=_int_env("MATCHSTREAM_PG_PORT", DEFAULT_PG_PORT),
        external_kafka=os.environ.get("KAFKA_BOOTSTRAP") or None,
        external_database_url=os.environ.get("DATABASE_URL") or None,
        read_database_url=os.environ.get("DATABASE_READ_URL") or None,
        namespace=os.environ.get("MATCHSTREAM_NAMESPACE", ""),
        replication_factor=_int_env("MATCHSTREAM_REPLICATION_FACTOR", None,
                                    "a positive number of brokers"),
        min_insync_replicas=_int_env("MATCHSTREAM_MIN_INSYNC_REPLICAS", None,
                                     "a positive number of replicas"),
    )
