"""Session-scoped real services: the project's own Kafka broker and PostgreSQL cluster.

Tests use their own state directory and ports, so they never touch a running demo.
A service that cannot start fails the tests (never skips them).
"""

from __future__ import annotations

import os

import pytest

from infra.settings import REPO_ROOT

os.environ.setdefault("MATCHSTREAM_HOME", str(REPO_ROOT / "var" / "test"))
os.environ.setdefault("MATCHSTREAM_KAFKA_PORT", "29092")
os.environ.setdefault("MATCHSTREAM_PG_PORT", "25432")


@pytest.fixture(scope="session")
def services():
    from infra import services as svc
    from infra.settings import load

    settings = load()
    svc.up(settings, say=lambda line: print(f"[services] {line}"))
    return settings


@pytest.fixture
def platform(services, request):
    from tests.platform import Platform

    plat = Platform(services, request.node.name)
    yield plat
    failed = any(getattr(getattr(request.node, f"report_{when}", None), "failed", False)
                 for when in ("setup", "call"))
    plat.close(keep_topics=failed)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Each phase's report on the test item, for fixtures that act on the outcome."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture(scope="session")
def cluster(services):
    """A three-broker cluster (tests/cluster.py), started for the first test that asks."""
    from tests import cluster as three_brokers

    settings = three_brokers.start(services)
    yield settings
    three_brokers.stop(settings)


@pytest.fixture
def cluster_platform(cluster, request):
    """A namespaced platform on the three-broker cluster; every broker back and in sync
    after the test."""
    from tests import cluster as three_brokers
    from tests.platform import Platform

    plat = Platform(cluster, request.node.name)
    try:
        yield plat
    finally:
        failed = any(getattr(getattr(request.node, f"report_{when}", None), "failed", False)
                     for when in ("setup", "call"))
        plat.close(keep_topics=failed)
        three_brokers.restore(cluster)
