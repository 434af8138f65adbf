"""`uvicorn api.app:app` in a subprocess, on a test's platform (its topics, its database)."""

from __future__ import annotations

import socket
import subprocess
import sys

import httpx

from infra.settings import REPO_ROOT
from tests.platform import wait_for

TIMEOUT = 90  # generous: other test runs share this 2-core machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ApiServer:
    def __init__(self, platform, log_level: str = "warning", **env) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/v1/ws"
        self.log_path = platform.log_dir / f"{platform.namespace}-api.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.app:app", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", log_level, "--ws-max-size", "1048576"],
            cwd=REPO_ROOT, env={**platform.env(), **env}, stdout=open(self.log_path, "ab"),  # noqa: SIM115
            stderr=subprocess.STDOUT, start_new_session=True)
        wait_for(self._up, TIMEOUT, "the API to answer", [self.log_path])

    def _up(self) -> bool:
        assert self.proc.poll() is None, self.log_path.read_text()
        try:
            return httpx.get(self.url + "/v1/market/stats", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, timeout=30)

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
