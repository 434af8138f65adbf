"""Where the platform finds its services, read once from the environment.

KAFKA_BOOTSTRAP / DATABASE_URL point at existing services; when they are set, nothing
is started locally. Otherwise the project runs its own broker and cluster under
MATCHSTREAM_HOME on ports that do not clash with services a user already runs.
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
    kafka_port: int
    pg_port: int
    external_kafka: str | None
    external_database_url: str | None
    read_database_url: str | None
    namespace: str

    @property
    def manages_kafka(self) -> bool:
        return self.external_kafka is None

    @property
    def manages_postgres(self) -> bool:
        return self.external_database_url is None

    @property
    def kafka_bootstrap(self) -> str:
        return self.external_kafka or f"127.0.0.1:{self.kafka_port}"

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


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be an integer port number, found {raw!r}") from None


def load() -> Settings:
    home = Path(os.environ.get("MATCHSTREAM_HOME") or REPO_ROOT / "var").resolve()
    cache = Path(os.environ.get("MATCHSTREAM_CACHE") or REPO_ROOT / ".cache").resolve()
    return Settings(
        home=home,
        cache=cache,
        kafka_port=_int_env("MATCHSTREAM_KAFKA_PORT", DEFAULT_KAFKA_PORT),
        pg_port=_int_env("MATCHSTREAM_PG_PORT", DEFAULT_PG_PORT),
        external_kafka=os.environ.get("KAFKA_BOOTSTRAP") or None,
        external_database_url=os.environ.get("DATABASE_URL") or None,
        read_database_url=os.environ.get("DATABASE_READ_URL") or None,
        namespace=os.environ.get("MATCHSTREAM_NAMESPACE", ""),
    )
