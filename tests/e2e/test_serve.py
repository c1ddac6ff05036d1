"""`headwater serve` as an operator meets it: a port in use, and the two halves of a split
deployment (`--only ingestion` / `--only api`) each saying where the other half's routes are."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import free_port
from tests.factories import run_event

API_URL = "http://queries.example.com:5001"
INGESTION_URL = "http://events.example.com:5000"


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
    env.update({"HEADWATER_DATA_DIR": str(tmp_path), "HEADWATER_STORE": "embedded",
                "HEADWATER_API_URL": API_URL, "HEADWATER_INGESTION_URL": INGESTION_URL})
    return env


def test_port_in_use_fails_before_the_banner_naming_the_settings(tmp_path: Path) -> None:
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        started = time.monotonic()
        result = subprocess.run([sys.executable, "-m", "headwater", "serve", "--port", str(port)],
                                env=_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    for setting in ("--port", "make run PORT=", "HEADWATER_PORT="):
        assert setting in result.stderr
    assert "Headwater on" not in result.stderr + result.stdout  # no banner: nothing started
    assert "Traceback" not in result.stderr
    assert time.monotonic() - started < 30
    assert not (tmp_path / "headwater.db").exists()  # failed before opening the store


class Half:
    def __init__(self, only: str, tmp_path: Path) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        self.log = tmp_path / f"{only}.log"
        self.env = _env(tmp_path)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "headwater", "serve", "--only", only,
             "--port", self.url.rsplit(":", 1)[1]],
            env=self.env, stdout=self.log.open("wb"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"server not ready: {self.log.read_text()}")

    def token(self, role: str) -> str:
        return subprocess.run([sys.executable, "-m", "headwater", "token", "create", "--role",
                               role], env=self.env, capture_output=True, text=True,
                              check=True).stdout.strip()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


@pytest.fixture
def ingestion(tmp_path: Path) -> Iterator[Half]:
    half = Half("ingestion", tmp_path)
    yield half
    half.stop()


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Half]:
    half = Half("api", tmp_path)
    yield half
    half.stop()


def _directions(response: httpx.Response, served_by: str, location: str) -> str:
    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["servedBy"] == served_by
    assert body["location"] == location
    assert location in body["detail"]
    return str(body["detail"])


def test_ingestion_only_serves_events_and_points_queries_to_the_api(ingestion: Half) -> None:
    banner = ingestion.log.read_text()
    assert "/api/v1/lineage" in banner
    assert "/graphql" not in banner and "GraphiQL" not in banner
    assert API_URL in banner

    token = ingestion.token("admin")
    with httpx.Client(base_url=ingestion.url, headers={"Authorization": f"Bearer {token}"}) as c:
        assert c.post("/api/v1/lineage", json=run_event("COMPLETE")).status_code == 201
        detail = _directions(c.post("/graphql", json={"query": "{ namespaces }"}), "api", API_URL)
        assert "only takes events" in detail
        _directions(c.get("/graphql", headers={"Accept": "text/html"}), "api", API_URL)
        _directions(c.get("/api/v1/lineage", params={"nodeId": "dataset:a:b"}), "api", API_URL)
        _directions(c.post("/api/v1/gate", json={}), "api", API_URL)
        _directions(c.get("/api/v1/gate/decisions"), "api", API_URL)
        _directions(c.get("/api/v1/erasure-requests/x"), "api", API_URL)
        _directions(c.post("/api/v1/erasure-requests", json={}), "api", API_URL)


def test_api_only_answers_queries_and_points_events_to_ingestion(api: Half) -> None:
    banner = api.log.read_text()
    assert "/graphql" in banner
    assert "OpenLineage:" not in banner
    assert INGESTION_URL in banner

    token = api.token("admin")
    with httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {token}"}) as c:
        answer = c.post("/graphql", json={"query": "{ namespaces }"})
        assert answer.status_code == 200 and answer.json() == {"data": {"namespaces": []}}
        detail = _directions(c.post("/api/v1/lineage", json=run_event("COMPLETE")), "ingestion",
                             INGESTION_URL)
        assert "only answers queries" in detail
        _directions(c.post("/api/v1/lineage/batch", json=[run_event("COMPLETE")]), "ingestion",
                    INGESTION_URL)
        _directions(c.post("/api/v1/quality", json={}), "ingestion", INGESTION_URL)
        # the read half of /api/v1/lineage is still served here
        assert c.get("/api/v1/lineage", params={"nodeId": "dataset:a:b"}).status_code == 404
        assert c.get("/api/v1/lineage", params={"nodeId": "dataset:a:b"}).json().get(
            "servedBy") is None
