"""The gate over HTTP: a body limit checked before parsing, caps on what one request may name,
and the principal of every decision is the caller's token name."""

from __future__ import annotations

import orjson
import pytest

from tests.e2e.conftest import Server


@pytest.fixture(params=["embedded"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def token_name(server: Server, role: str) -> str:
    token = server.token(role)
    listed = [orjson.loads(line) for line in
              server.cli("token", "list", "--json").stdout.splitlines()]
    names = [t["name"] for t in listed if t["role"] == role]
    assert len(names) == 1 and names[0] not in token
    return str(names[0])


def test_a_body_over_the_limit_is_refused_before_parsing(server: Server) -> None:
    with server.client("producer") as c:
        # Not even JSON: a 400 would mean it was parsed.
        r = c.post("/api/v1/gate", content=b"x" * (1024 * 1024 + 1))
        assert r.status_code == 413, r.text
        detail = r.json()["detail"]
        assert "1048576-byte limit" in detail and "HEADWATER_GATE_MAX_BODY_BYTES" in detail

        def chunks():  # no Content-Length: counted as it streams in
            for _ in range(20):
                yield b"y" * 65536

        r = c.post("/api/v1/gate", content=chunks())
        assert r.status_code == 413, r.text


def test_too_many_datasets_are_refused_before_evaluation(server: Server) -> None:
    body = {"job": {"namespace": "etl", "name": "j"},
            "inputs": [{"namespace": "pg", "name": f"t{i}"} for i in range(1001)],
            "outputs": [{"namespace": "pg", "name": "out"}]}
    with server.client("producer") as c:
        r = c.post("/api/v1/gate", content=orjson.dumps(body))
        assert r.status_code == 413, r.text
        assert "names 1002 datasets" in r.json()["detail"]
        assert "limit is 1000" in r.json()["detail"]
    with server.client("viewer") as c:
        assert c.get("/api/v1/gate/decisions").json()["decisions"] == []


def test_the_principal_is_the_token_name_not_the_body(server: Server) -> None:
    name = token_name(server, "producer")
    body = {"job": {"namespace": "etl", "name": "j"}, "inputs": [], "outputs": [],
            "context": {"principal": "mallory", "environment": "dev"}}
    with server.client("producer") as c:
        r = c.post("/api/v1/gate", content=orjson.dumps(body))
        assert r.status_code == 200, r.text
        assert r.json()["principal"] == name
    with server.client("viewer") as c:
        (logged,) = c.get("/api/v1/gate/decisions").json()["decisions"]
    assert logged["principal"] == name
    q = "{ gateDecisions(jobId: \"job:etl:j\") { principal } }"
    assert server.graphql(q)["gateDecisions"] == [{"principal": name}]
