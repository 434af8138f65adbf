"""Shared fixtures of the API tests: the app against the test's platform, and tokens."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from api.auth import issue_token


@pytest.fixture
def api(platform, monkeypatch):
    """The Starlette app (lifespan run) with its settings pointing at this test's platform;
    rate limits out of the way (tests of them make an app of their own: `app_client`)."""
    for name in ("MATCHSTREAM_RATE_ORDERS", "MATCHSTREAM_RATE_QUERIES",
                 "MATCHSTREAM_RATE_ADDRESS"):
        monkeypatch.setenv(name, "0")
    with app_client(platform, monkeypatch) as client:
        yield client


def app_client(platform, monkeypatch) -> TestClient:
    env = platform.env()
    for name in ("KAFKA_BOOTSTRAP", "DATABASE_URL", "MATCHSTREAM_NAMESPACE"):
        monkeypatch.setenv(name, env[name])
    monkeypatch.delenv("DATABASE_READ_URL", raising=False)
    from api.app import create_app

    return TestClient(create_app())


def auth(platform, account: str | None) -> dict[str, str]:
    """Authorization header of a fresh token for an account (None: an admin token)."""
    token = issue_token(platform.db, account, is_admin=account is None)
    return {"Authorization": f"Bearer {token}"}


def error_code(response) -> str:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    return body["error"]["code"]
