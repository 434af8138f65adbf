"""Headless Chromium (Debian's, driven by Playwright) against a real API process.

The browser must be there: a missing /usr/bin/chromium fails the tests, never skips
them (scripts/bootstrap installs it).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.api_server import TIMEOUT, ApiServer  # noqa: F401  (TIMEOUT: the tests' waits)

CHROMIUM = os.environ.get("MATCHSTREAM_CHROMIUM", "/usr/bin/chromium")


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
