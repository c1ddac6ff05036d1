"""The gate's principal is the caller's token, and only a token bound to a fail-open
environment fails open: a body cannot claim its way past a gate whose engine is down."""

from __future__ import annotations

import socket
from pathlib import Path

import orjson
import pytest

from headwater.catalog import open_store
from headwater.catalog.errors import Forbidden, TooLarge
from headwater.catalog.tokens import Identity
from headwater.policies.engine import EmbeddedEngine, OpaEngine
from headwater.policies.gate import Gate, GateLimits

PLAIN = {"job": {"namespace": "etl", "name": "j"}, "inputs": [{"namespace": "pg", "name": "a"}],
         "outputs": [{"namespace": "pg", "name": "b"}]}


def body(**context: str) -> bytes:
    return orjson.dumps({**PLAIN, "context": context})


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = open_store("embedded", path=tmp_path / "headwater.db")
    yield s
    s.close()


@pytest.fixture
def engine_down() -> OpaEngine:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    return OpaEngine(f"http://127.0.0.1:{port}", timeout=0.5)


def test_the_principal_is_the_token_not_the_body(store) -> None:  # type: ignore[no-untyped-def]
    gate = Gate(store, EmbeddedEngine(opa=None))
    decision = gate.check(body(principal="mallory", purpose="billing"),
                          Identity("ci-airflow", "producer")).record
    assert decision.principal == "ci-airflow"
    assert store.decisions()[0].principal == "ci-airflow"
    doc = gate.enrich(gate_request_of(body(onBehalfOf="team-a")), "ci-airflow")
    assert doc["context"] == {"principal": "ci-airflow", "onBehalfOf": "team-a"}


def gate_request_of(raw: bytes):  # type: ignore[no-untyped-def]
    from headwater.policies.gate import gate_request

    return gate_request(orjson.loads(raw))


def test_a_claimed_environment_never_fails_open(store, engine_down) -> None:  # type: ignore[no-untyped-def]
    gate = Gate(store, engine_down, fail_open_environments=["dev"])
    claimed = gate.check(body(environment="dev"), Identity("ci", "producer")).record
    assert claimed.decision == "deny"
    assert claimed.reasons[0]["rule"] == "policy_engine_unavailable"
    bound = gate.check(body(), Identity("ci-dev", "producer", environment="dev")).record
    assert bound.decision == "allow" and bound.reasons[0]["severity"] == "warn"
    prod = gate.check(body(), Identity("ci-prod", "producer", environment="prod")).record
    assert prod.decision == "deny"


def test_a_bound_token_cannot_claim_another_environment(store, engine_down) -> None:  # type: ignore[no-untyped-def]
    gate = Gate(store, engine_down, fail_open_environments=["dev"])
    with pytest.raises(Forbidden, match="token is for environment 'prod'"):
        gate.check(body(environment="dev"), Identity("ci-prod", "producer", environment="prod"))


def test_a_policy_timeout_denies_and_says_so(store) -> None:  # type: ignore[no-untyped-def]
    from headwater.catalog import Flow
    from headwater.policies.gate import GateRequest

    n = 20_000
    flows = [Flow(f"dataset:pg:in{i}", "f", f"dataset:pg:out{i}", "f", "DIRECT", False)
             for i in range(n)]
    req = GateRequest(job=("etl", "j"), inputs=[("pg", f"in{i}") for i in range(n)],
                      outputs=[("pg", f"out{i}") for i in range(n)], flows=flows)
    gate = Gate(store, EmbeddedEngine(opa=None, timeout=0.01),
                limits=GateLimits(max_datasets=10 * n, max_flows=10 * n))
    record = gate.decide(req, "ci").record
    assert record.decision == "deny"
    (reason,) = record.reasons
    assert reason["rule"] == "policy_engine_unavailable"
    assert "ran past the 0.01 s timeout" in reason["message"]
    assert "fails closed" in reason["message"]


def test_requests_over_the_limits_are_refused_before_evaluation(store) -> None:  # type: ignore[no-untyped-def]
    gate = Gate(store, EmbeddedEngine(opa=None), limits=GateLimits(max_datasets=3, max_flows=2))
    many = orjson.dumps({**PLAIN, "inputs": [{"namespace": "pg", "name": f"i{i}"}
                                             for i in range(3)]})
    with pytest.raises(TooLarge, match="names 4 datasets.*the limit is 3"):
        gate.check(many, Identity("ci", "producer"))
    assert store.decisions() == []  # nothing was decided, nothing logged
