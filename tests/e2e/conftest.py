"""A real Headwater server (uvicorn in a subprocess) on a free loopback port, per backend."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import _wipe_neo4j


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    env: dict[str, str]
    data_dir: Path
    proc: subprocess.Popen[bytes] | None = None
    tokens: dict[str, str] = field(default_factory=dict)
    log: Path | None = None
    python: str = sys.executable  # another checkout's, to compare two (bench/gate_ab.py)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.python, "-m", "headwater", *args], env=self.env,
                              capture_output=True, text=True, check=check, timeout=120)

    def token(self, role: str) -> str:
        if role not in self.tokens:
            self.tokens[role] = self.cli("token", "create", "--role", role).stdout.strip()
        return self.tokens[role]

    def client(self, role: str = "admin") -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30,
                            headers={"Authorization": f"Bearer {self.token(role)}"})

    def graphql(self, query: str, role: str = "viewer", **variables: object) -> dict:
        with self.client(role) as c:
            body = c.post("/graphql", json={"query": query, "variables": variables}).json()
        assert not body.get("errors"), body["errors"]
        return body["data"]

    def start(self) -> None:
        port = self.url.rsplit(":", 1)[1]
        self.log = self.data_dir / "server.log"
        self.proc = subprocess.Popen(
            [self.python, "-m", "headwater", "serve", "--port", port],
            env=self.env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"server not ready in 60 s: {self.log.read_text()[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)


def server_env(backend: str, data_dir: Path, request: pytest.FixtureRequest) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
    env.update({"HEADWATER_DATA_DIR": str(data_dir), "HEADWATER_STORE": backend})
    if backend == "neo4j":
        neo = request.getfixturevalue("neo4j_service")
        _wipe_neo4j(neo)
        env.update(neo)
    return env


@pytest.fixture
def server(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Server]:
    srv = Server(url=f"http://127.0.0.1:{free_port()}", env=server_env(backend, tmp_path, request),
                 data_dir=tmp_path)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
