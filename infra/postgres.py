"""A local PostgreSQL cluster: initdb into the state directory, run with pg_ctl.

PostgreSQL refuses to run as root, so when we are root the cluster belongs to the
`postgres` system user (created by Debian's package) and commands run through runuser.
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import shutil
import subprocess
import time
from pathlib import Path

import psycopg

from infra import process
from infra.settings import DATABASE_NAME, DATABASE_USER, Settings

SERVICE_USER = "postgres"


class PostgresError(RuntimeError):
    pass


def _bin_dir() -> Path | None:
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True).stdout
        candidate = Path(out.strip())
        if (candidate / "pg_ctl").exists() and (candidate / "initdb").exists():
            return candidate
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                   key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def ensure_binaries(say=print) -> Path:
    """Install Debian's server package when the binaries are absent (root only)."""
    bin_dir = _bin_dir()
    if bin_dir:
        return bin_dir
    if os.geteuid() != 0:
        raise PostgresError("PostgreSQL server binaries not found: install Debian's "
                            "'postgresql' package, or set DATABASE_URL")
    say("postgres: server binaries absent, installing Debian's postgresql package ...")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for argv in (["apt-get", "update", "-q"],
                 ["apt-get", "install", "-y", "-q", "--no-install-recommends", "postgresql"]):
        result = subprocess.run(argv, capture_output=True, text=True, env=env)
        if result.returncode != 0:
            raise PostgresError(f"{' '.join(argv)} failed:\n{result.stdout[-2000:]}"
                                f"\n{result.stderr[-2000:]}")
    bin_dir = _bin_dir()
    if bin_dir is None:
        raise PostgresError("installed postgresql but found no pg_ctl")
    return bin_dir


def _as_root() -> bool:
    return os.geteuid() == 0


def _run_as_owner(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    if _as_root():
        argv = ["runuser", "-u", SERVICE_USER, "--", *argv]
        kwargs.setdefault("cwd", "/")  # our working folder may be closed to that user
    return subprocess.run(argv, capture_output=True, text=True, **kwargs)


def _owner_can_use(path: Path) -> bool:
    return _run_as_owner(["test", "-w", str(path)]).returncode == 0


def data_root(settings: Settings) -> Path:
    """The cluster directory; as root it must be reachable by the postgres user."""
    preferred = settings.home / "postgres"
    if not _as_root():
        return preferred
    preferred.mkdir(parents=True, exist_ok=True)
    _chown(preferred)
    if _owner_can_use(preferred):
        return preferred
    # a parent folder is closed to other users: keep the cluster in a system place instead
    digest = hashlib.sha1(str(settings.home).encode()).hexdigest()[:12]
    fallback = Path("/var/lib/matchstream") / digest
    fallback.mkdir(parents=True, exist_ok=True)
    _chown(fallback)
    return fallback


def _chown(path: Path) -> None:
    if _as_root():
        try:
            pwd.getpwnam(SERVICE_USER)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", SERVICE_USER], check=True)
        shutil.chown(path, SERVICE_USER, SERVICE_USER)


def log_file(settings: Settings) -> Path:
    """In the log folder, unless the cluster had to move where the postgres user can write."""
    root = data_root(settings)
    if root == settings.home / "postgres":
        return settings.log_dir / "postgres.log"
    return root / "postgres.log"


def is_running(settings: Settings) -> bool:
    bin_dir = _bin_dir()
    if bin_dir is None:
        return False
    data = data_root(settings) / "data"
    if not (data / "PG_VERSION").exists():
        return False
    return _run_as_owner([str(bin_dir / "pg_ctl"), "-D", str(data), "status"]).returncode == 0


def running_pid(settings: Settings) -> int | None:
    """The postmaster's pid of the cluster this project runs, if it is running."""
    try:
        first = (data_root(settings) / "data" / "postmaster.pid").read_text().split("\n", 1)[0]
        pid = int(first)
    except (OSError, ValueError):
        return None
    return pid if Path(f"/proc/{pid}").exists() else None


def start(settings: Settings, say=print) -> None:
    bin_dir = ensure_binaries(say)
    root = data_root(settings)
    data, run = root / "data", root / "run"
    log = log_file(settings)
    log.parent.mkdir(parents=True, exist_ok=True)
    if not log.exists():
        log.touch()
    _chown(log)
    if root != settings.home / "postgres":
        say(f"postgres: {settings.home} is closed to the postgres user; cluster in {root}")
    if not (data / "PG_VERSION").exists():
        say(f"postgres: initialising a cluster in {data}")
        for path in (data, run):
            path.mkdir(parents=True, exist_ok=True)
            _chown(path)
        result = _run_as_owner([str(bin_dir / "initdb"), "-D", str(data), "-U", DATABASE_USER,
                                "-A", "trust", "-E", "UTF8", "--no-locale"])
        if result.returncode != 0:
            raise PostgresError(f"initdb failed:\n{result.stdout}\n{result.stderr}")
        _configure(data, run, settings)
    if is_running(settings):
        say(f"postgres: already running on 127.0.0.1:{settings.pg_port}")
    else:
        if process.port_open(settings.pg_port):
            raise PostgresError(f"port {settings.pg_port} is taken by another process; "
                                "set MATCHSTREAM_PG_PORT or DATABASE_URL")
        say(f"postgres: starting on 127.0.0.1:{settings.pg_port} (log: {log})")
        result = _run_as_owner([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log),
                                "-w", "-t", "60", "start"])
        if result.returncode != 0:
            raise PostgresError(f"pg_ctl start failed:\n{result.stdout}\n{result.stderr}\n"
                                f"{process.tail(log)}")
    _ensure_database(settings)
    say("postgres: ready")


def _configure(data: Path, run: Path, settings: Settings) -> None:
    # Durable by default (fsync, synchronous_commit on): settlement is ACID.
    extra = f"""
# written by infra/postgres.py
listen_addresses = '127.0.0.1'
port = {settings.pg_port}
unix_socket_directories = '{run}'
max_connections = 200
shared_buffers = 256MB
wal_level = replica
max_wal_size = 2GB
"""
    conf = data / "postgresql.conf"
    conf.write_text(conf.read_text() + extra)


def _admin_url(settings: Settings) -> str:
    return f"postgresql://{DATABASE_USER}@127.0.0.1:{settings.pg_port}/postgres"


def _ensure_database(settings: Settings) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with psycopg.connect(_admin_url(settings), autocommit=True) as conn:
                exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                      (DATABASE_NAME,)).fetchone()
                if not exists:
                    conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def create_database(settings: Settings, name: str) -> str:
    """A fresh database on the managed cluster (tests use one per session)."""
    with psycopg.connect(_admin_url(settings), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://{DATABASE_USER}@127.0.0.1:{settings.pg_port}/{name}"


def stop(settings: Settings, say=print) -> None:
    if not is_running(settings):
        say("postgres: not running")
        return
    data = data_root(settings) / "data"
    _run_as_owner([str(_bin_dir() / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"])
    say("postgres: stopped")
