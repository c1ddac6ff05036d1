"""The policy gate over HTTP, with the embedded engine and with a real OPA server."""

from __future__ import annotations

import json
import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from headwater.client import Client
from headwater.policies.engine import BUNDLE
from tests.e2e.conftest import Server, free_port, server_env
from tests.factories import column_lineage, dataset, run_event, schema
from tests.harness.services import start_opa

PG = "postgres://shop:5432"
CUSTOMERS = dataset(PG, "shop.customers", s=schema("id", "email"), t={"tags": {"tags": [
    {"key": "classification", "value": "pii.email", "field": "email"}]}})
EXPORT = dataset(PG, "shop.export", s=schema("id", "email"),
                 c=column_lineage({"email": [(PG, "shop.customers", "email")],
                                   "id": [(PG, "shop.customers", "id")]}))


def start_event(run_id: str, **run_facets: dict) -> dict:
    return run_event("START", run_id=run_id, job=("etl", "export_customers"),
                     inputs=[CUSTOMERS], outputs=[EXPORT], run_facets=run_facets or None)


def steward(server: Server, mutation: str) -> None:
    server.graphql("mutation { %s }" % mutation, role="steward")


def gate(server: Server, body: dict) -> dict:
    with server.client("producer") as c:
        r = c.post("/api/v1/gate", content=orjson.dumps(body))
    assert r.status_code == 200, r.text
    return r.json()


def catalogued(server: Server) -> None:
    with server.client("producer") as c:
        r = c.post("/api/v1/lineage", content=orjson.dumps(run_event(
            "COMPLETE", job=("etl", "export_customers"), inputs=[CUSTOMERS], outputs=[EXPORT])))
        assert r.status_code == 201


@pytest.fixture(params=["embedded"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_pii_is_masked_then_allowed_once_approved(server: Server) -> None:
    # The shipped compiled bundle is current, so the embedded engine runs it, and says so.
    assert server.log and "policy: embedded, wasm" in server.log.read_text()
    catalogued(server)
    run_id = str(uuid.uuid4())
    answer = gate(server, start_event(run_id))
    assert answer["decision"] == "mask"
    assert answer["masks"] == [{"dataset": f"dataset:{PG}:shop.export", "field": "email",
                                "strategy": "hash"}]
    assert answer["policyRevision"].startswith("sha256:")
    steward(server, f'tagDataset(namespace: "{PG}", name: "shop.export", '
                    'tags: ["pii-allowed:pii"]) { tags }')
    assert gate(server, start_event(str(uuid.uuid4())))["decision"] == "allow"
    # The decision is on record, and on the run.
    q = 'query($id: ID!) { gateDecisions(runId: $id) { decision masks { field strategy } } }'
    assert server.graphql(q, id=run_id)["gateDecisions"] == [
        {"decision": "mask", "masks": [{"field": "email", "strategy": "hash"}]}]
    with server.client("producer") as c:
        c.post("/api/v1/lineage", content=orjson.dumps(start_event(run_id)))
    run = server.graphql('query($id: ID!) { run(id: $id) { state gateDecision { decision } } }',
                         id=run_id)["run"]
    assert run == {"state": "RUNNING", "gateDecision": {"decision": "mask"}}


def test_purpose_retention_and_quality_deny(server: Server) -> None:
    catalogued(server)
    steward(server, f'tagDataset(namespace: "{PG}", name: "shop.export", '
                    'tags: ["pii-allowed:pii"]) { tags }')
    steward(server, f'tagDataset(namespace: "{PG}", name: "shop.customers", '
                    'tags: ["purpose:billing"]) { tags }')
    plain = {"job": {"namespace": "etl", "name": "export_customers"},
             "inputs": [{"namespace": PG, "name": "shop.customers"}],
             "outputs": [{"namespace": PG, "name": "shop.export"}],
             "context": {"purpose": "marketing"}}
    answer = gate(server, plain)
    assert answer["decision"] == "deny"
    assert [r["rule"] for r in answer["reasons"]] == ["purpose"]
    plain["context"] = {"purpose": "billing"}
    assert gate(server, plain)["decision"] == "allow"
    steward(server, f'a: setRetention(namespace: "{PG}", name: "shop.customers", days: 30) '
                    '{ retentionDays } '
                    f'b: setRetention(namespace: "{PG}", name: "shop.export", days: 400) '
                    '{ retentionDays }')
    answer = gate(server, plain)
    assert answer["decision"] == "deny" and answer["reasons"][0]["rule"] == "retention"
    steward(server, f'setRetention(namespace: "{PG}", name: "shop.export", days: 30) '
                    '{ retentionDays }')
    failing = dict(CUSTOMERS, inputFacets={"dataQualityAssertions": {"assertions": [
        {"assertion": "not_null", "column": "email", "success": False}]}})
    with server.client("producer") as c:
        c.post("/api/v1/lineage", content=orjson.dumps(run_event(
            "COMPLETE", job=("dq", "check"), inputs=[failing], time="2026-03-02T00:00:00Z")))
    answer = gate(server, plain)
    assert answer["decision"] == "deny"
    assert answer["reasons"][0]["message"] == (
        f"dataset:{PG}:shop.customers failed its latest quality checks: not_null(email)")


def test_cli_exit_codes_and_python_client(server: Server, tmp_path: Path) -> None:
    catalogued(server)
    server.env["HEADWATER_TOKEN"] = server.token("producer")
    event = tmp_path / "start.json"
    event.write_text(json.dumps(start_event(str(uuid.uuid4()))))
    masked = server.cli("gate", "check", "--event", str(event), "--url", server.url, check=False)
    assert masked.returncode == 3, masked.stderr
    assert f"mask dataset:{PG}:shop.export email with hash" in masked.stdout
    steward(server, f'tagDataset(namespace: "{PG}", name: "shop.customers", '
                    'tags: ["purpose:billing"]) { tags }')
    denied = server.cli("gate", "check", "--job", "etl:export_customers", "--input",
                        f"{PG}:shop.customers", "--output", f"{PG}:shop.export", "--purpose",
                        "ads", "--url", server.url, check=False)
    assert denied.returncode == 2 and "[purpose]" in denied.stdout
    broken = server.cli("gate", "check", "--job", "etl:x", "--url", "http://127.0.0.1:9",
                        check=False)
    assert broken.returncode == 1 and "error:" in broken.stderr
    with Client(server.url, server.token("producer")) as client:
        decision = client.gate(("etl", "export_customers"), [(PG, "shop.customers")],
                               [(PG, "shop.export")], purpose="billing")
    assert decision.decision == "mask" and decision.allowed
    assert decision.masks[0]["strategy"] == "hash"


def test_bad_gate_requests_are_refused_precisely(server: Server) -> None:
    with server.client("producer") as c:
        r = c.post("/api/v1/gate", content=orjson.dumps({"job": {"namespace": "x"}}))
        assert r.status_code == 422
        assert {e["pointer"] for e in r.json()["errors"]} == {"/job/name"}
    with server.client("viewer") as c:
        assert c.post("/api/v1/gate", json={"job": {"namespace": "a", "name": "b"}}
                      ).status_code == 403
    r = httpx.post(server.url + "/api/v1/gate", json={"job": {"namespace": "a", "name": "b"}})
    assert r.status_code == 401 and "bearer token" in r.json()["detail"]
    assert "post" in httpx.get(server.url + "/openapi.json").json()["paths"]["/api/v1/gate"]


def test_decisions_answered_before_a_crash_are_on_record(server: Server) -> None:
    # The decision log commits without waiting for the disk (docs/design.md): a killed server
    # must still have every decision it answered.
    catalogued(server)
    answered = {gate(server, start_event(str(uuid.uuid4())))["decisionId"] for _ in range(20)}
    server.stop(signal.SIGKILL)
    server.start()
    with server.client("viewer") as c:
        r = c.get("/api/v1/gate/decisions", params={"jobId": "job:etl:export_customers",
                                                     "first": 100})
    assert r.status_code == 200, r.text
    assert answered <= {d["decisionId"] for d in r.json()["decisions"]}


@pytest.fixture
def opa_server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Server, int]]:
    """Headwater on the OPA engine, against a stock OPA that loaded policies/rego."""
    port = free_port()
    opa = start_opa(str(BUNDLE), port=port)
    env = server_env("embedded", tmp_path, request)
    env.update({"HEADWATER_POLICY_ENGINE": "opa", "HEADWATER_OPA_URL": f"http://127.0.0.1:{port}",
                "HEADWATER_GATE_TIMEOUT_SECONDS": "1"})
    srv = Server(url=f"http://127.0.0.1:{free_port()}", env=env, data_dir=tmp_path)
    srv.start()
    try:
        yield srv, port
    finally:
        srv.stop(signal.SIGTERM)
        opa.stop()


def test_opa_engine_fails_closed_and_recovers(opa_server: tuple[Server, int]) -> None:
    server, port = opa_server
    assert server.log and f"policy: OPA at http://127.0.0.1:{port}" in server.log.read_text()
    catalogued(server)
    assert gate(server, start_event(str(uuid.uuid4())))["decision"] == "mask"
    # Kill OPA: every decision is a deny that says why, and readiness reports it.
    os.kill(_opa_pid(port), signal.SIGKILL)
    answer = gate(server, start_event(str(uuid.uuid4())))
    assert answer["decision"] == "deny"
    assert answer["reasons"][0]["rule"] == "policy_engine_unavailable"
    assert httpx.get(server.url + "/readyz").status_code == 503
    again = start_opa(str(BUNDLE), port=port)
    try:
        assert gate(server, start_event(str(uuid.uuid4())))["decision"] == "mask"
        assert httpx.get(server.url + "/readyz").status_code == 200
    finally:
        again.stop()


def _opa_pid(port: int) -> int:
    import subprocess

    out = subprocess.run(["pgrep", "-f", f"127.0.0.1:{port}"], capture_output=True, text=True)
    pids = [int(p) for p in out.stdout.split()]
    assert pids, f"no OPA process on port {port}"
    return pids[0]
