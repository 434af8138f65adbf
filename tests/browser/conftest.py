"""Headless Chromium (Debian's, driven by Playwright) against a real API process.

The browser must be there: a missing /usr/bin/chromium fails the tests, never skips
them (scripts/bootstrap installs it).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from infra.settings import REPO_ROOT
from tests.platform import wait_for

CHROMIUM = os.environ.get("MATCHSTREAM_CHROMIUM", "/usr/bin/chromium")
TIMEOUT = 90  # generous: other test runs share this 2-core machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ApiServer:
    """`uvicorn api.app:app` in a subprocess, on the test's platform (topics, database)."""

    def __init__(self, platform) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = platform.log_dir / f"{platform.namespace}-api.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.app:app", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "warning"],
            cwd=REPO_ROOT, env=platform.env(), stdout=open(self.log_path, "ab"),  # noqa: SIM115
            stderr=subprocess.STDOUT, start_new_session=True)
        wait_for(self._up, TIMEOUT, "the API to answer", [self.log_path])

    def _up(self) -> bool:
        assert self.proc.poll() is None, self.log_path.read_text()
        try:
            return httpx.get(self.url + "/v1/market/stats", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def post(self, path: str, token: str, body: dict) -> httpx.Response:
        return httpx.post(self.url + path, json=body, timeout=30,
                          headers={"Authorization": f"Bearer {token}"})

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def api_server(platform):
    server = ApiServer(platform)
    yield server
    server.close()


@pytest.fixture
def artifacts(services, request) -> Path:
    """Where the test leaves its screenshots (under MATCHSTREAM_HOME, gitignored)."""
    path = services.home / "artifacts" / request.node.name
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*.png"):  # only this run's pictures (and no stale failure.png)
        old.unlink()
    print(f"\nscreenshots in {path}")
    return path


@pytest.fixture
def chromium():
    """Per test: Playwright's sync API marks its event loop as running in this thread
    while it is open, which would break later tests' asyncio.run."""
    assert Path(CHROMIUM).exists(), (
        f"{CHROMIUM} is missing: install Debian's chromium (scripts/bootstrap does, as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        # containers often have a tiny /dev/shm, which crashes Chromium's renderers
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--disable-dev-shm-usage"])
        yield browser
        browser.close()
