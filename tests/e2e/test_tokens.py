"""Token lifecycle from the CLI, against running servers: listed without secrets, revoked or
expired tokens refused within a second by every server sharing the store, and the principal
everywhere is the token's name."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from tests.e2e.conftest import Server, free_port, server_env


@pytest.fixture(params=["embedded"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["embedded", "neo4j"])
def two_servers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    """Two Headwater processes on one store (one data directory, or one Neo4j)."""
    env = server_env(str(request.param), tmp_path, request)
    servers = [Server(url=f"http://127.0.0.1:{free_port()}", env=env, data_dir=tmp_path / d)
               for d in ("a", "b")]
    for s in servers:
        s.data_dir.mkdir()
        s.start()
    try:
        yield servers[0], servers[1]
    finally:
        for s in servers:
            s.stop(signal.SIGTERM)


def status(server: Server, token: str) -> int:
    return httpx.get(server.url + "/api/v1/gate/decisions",
                     headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code


def test_a_revoked_token_is_refused_by_every_server_within_a_second(
        two_servers: tuple[Server, Server]) -> None:
    a, b = two_servers
    token = a.cli("token", "create", "--role", "viewer", "--name", "dashboards").stdout.strip()
    assert status(a, token) == 200 and status(b, token) == 200  # both remember it now
    a.cli("token", "revoke", "dashboards")
    revoked = time.monotonic()
    refused: dict[str, float] = {}
    while len(refused) < 2 and time.monotonic() - revoked < 5:
        for s in (a, b):
            if s.url not in refused and status(s, token) == 401:
                refused[s.url] = time.monotonic() - revoked
        time.sleep(0.02)
    assert sorted(refused) == sorted([a.url, b.url]), "a revoked token still worked after 5 s"
    assert max(refused.values()) <= 1.0 + 0.3, refused  # 1 s, and the requests' own time
    r = httpx.get(b.url + "/api/v1/gate/decisions", headers={"Authorization": f"Bearer {token}"})
    assert "revoked or expired" in r.json()["detail"]


def test_a_deleted_token_is_refused_within_a_second(server: Server) -> None:
    token = server.token("viewer")
    assert status(server, token) == 200  # remembered now
    import sqlite3
    with sqlite3.connect(server.data_dir / "headwater.db") as db:
        db.execute("DELETE FROM tokens")
    db.close()
    deleted = time.monotonic()
    while status(server, token) != 401:
        assert time.monotonic() - deleted < 1.3, "a deleted token still works after 1 s"
        time.sleep(0.05)


def test_tokens_are_listed_without_secrets_and_expire(server: Server) -> None:
    producer = server.cli("token", "create", "--role", "producer", "--name", "airflow",
                          "--expires", "90d", "--environment", "prod").stdout.strip()
    duplicate = server.cli("token", "create", "--role", "viewer", "--name", "airflow",
                           check=False)
    assert duplicate.returncode == 1 and "exists already" in duplicate.stderr
    bad = server.cli("token", "create", "--role", "viewer", "--expires", "soon", check=False)
    assert bad.returncode == 1 and "e.g. 90d" in bad.stderr
    with httpx.Client(base_url=server.url,
                      headers={"Authorization": f"Bearer {producer}"}) as c:
        r = c.post("/api/v1/gate", content=orjson.dumps(
            {"job": {"namespace": "etl", "name": "j"}, "inputs": [], "outputs": []}))
        assert r.status_code == 200 and r.json()["principal"] == "airflow"
    table = server.cli("token", "list").stdout
    assert table.splitlines()[0].split() == ["NAME", "ROLE", "ENVIRONMENT", "CREATED", "LAST",
                                             "USED", "EXPIRES", "STATUS"]
    assert "airflow" in table and "prod" in table and "active" in table
    listed = [orjson.loads(line) for line in server.cli("token", "list", "--json").stdout.splitlines()]
    (airflow,) = [t for t in listed if t["name"] == "airflow"]
    assert airflow["role"] == "producer" and airflow["expiresAt"] > airflow["createdAt"]
    assert airflow["lastUsedAt"] is not None  # the gate call above
    from headwater.catalog.tokens import hash_token
    for text in (table, str(listed)):
        assert producer not in text and producer[:10] not in text
        assert hash_token(producer) not in text
    revoke = server.cli("token", "revoke", "nobody", check=False)
    assert revoke.returncode == 1 and "no token is named 'nobody'" in revoke.stderr


def test_a_token_past_its_expiry_is_refused(server: Server) -> None:
    token = server.cli("token", "create", "--role", "viewer", "--name", "brief",
                       "--expires", "1m").stdout.strip()
    assert status(server, token) == 200
    # A minute is long for a test: move the expiry into the past, as time would.
    import sqlite3
    with sqlite3.connect(server.data_dir / "headwater.db") as db:
        db.execute("UPDATE tokens SET expires_at = '2000-01-01T00:00:00.000000+00:00' "
                   "WHERE name = 'brief'")
    db.close()
    deadline = time.monotonic() + 1.3
    while status(server, token) != 401:
        assert time.monotonic() < deadline, "an expired token still works"
        time.sleep(0.05)
    assert "expired" in server.cli("token", "list").stdout
