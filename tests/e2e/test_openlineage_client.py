"""The real openlineage-python client, with its HttpTransport and API-key auth, against a real
server; then GraphQL shows what was stored."""

from __future__ import annotations

import gzip
import uuid

import orjson
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import column_lineage_dataset as cl
from openlineage.client.facet_v2 import schema_dataset
from openlineage.client.transport.http import (
    ApiKeyTokenProvider,
    HttpCompression,
    HttpConfig,
    HttpTransport,
)

from tests.e2e.conftest import Server
from tests.factories import dataset, run_event, schema

NS = "postgres://warehouse.internal:5432"

DATASET_QUERY = """
query($ns: String!, $name: String!) {
  dataset(namespace: $ns, name: $name) {
    id namespace name
    fields { name type }
    schemaVersions { version runId fields { name } diff { added removed } }
    producers { name latestRun { id state startedAt endedAt } }
  }
}"""


def _schema(*names: str) -> schema_dataset.SchemaDatasetFacet:
    return schema_dataset.SchemaDatasetFacet(
        fields=[schema_dataset.SchemaDatasetFacetFields(name=n, type="varchar") for n in names]
    )


def test_openlineage_python_start_complete_then_graphql(server: Server) -> None:
    transport = HttpTransport(HttpConfig(
        url=server.url, auth=ApiKeyTokenProvider({"apiKey": server.token("producer")}),
        compression=HttpCompression.GZIP,
    ))
    client = OpenLineageClient(transport=transport)
    run = Run(runId=str(uuid.uuid4()))
    job = Job(namespace="airflow", name="daily.customers")
    source = InputDataset(namespace=NS, name="shop.public.customers",
                          facets={"schema": _schema("id", "email")})
    lineage = cl.ColumnLineageDatasetFacet(fields={
        "email_hash": cl.Fields(inputFields=[cl.InputField(
            namespace=NS, name="shop.public.customers", field="email",
            transformations=[cl.Transformation(type="DIRECT", subtype="TRANSFORMATION", masking=True)],
        )]),
        "id": cl.Fields(inputFields=[cl.InputField(namespace=NS, name="shop.public.customers",
                                                   field="id")]),
    })
    target = OutputDataset(namespace=NS, name="analytics.customers",
                           facets={"schema": _schema("id", "email_hash"), "columnLineage": lineage})
    client.emit(RunEvent(eventType=RunState.START, eventTime="2026-03-01T10:00:00Z", run=run,
                         job=job, inputs=[source], outputs=[target], producer="https://x/airflow"))
    client.emit(RunEvent(eventType=RunState.COMPLETE, eventTime="2026-03-01T10:05:00Z", run=run,
                         job=job, inputs=[source], outputs=[target], producer="https://x/airflow"))

    data = server.graphql(DATASET_QUERY, ns=NS, name="analytics.customers")["dataset"]
    assert data["id"] == f"dataset:{NS}:analytics.customers"
    assert data["fields"] == [{"name": "id", "type": "varchar"},
                              {"name": "email_hash", "type": "varchar"}]
    assert data["schemaVersions"] == [{"version": 1, "runId": run.runId,
                                       "fields": [{"name": "id"}, {"name": "email_hash"}],
                                       "diff": None}]
    (producer,) = data["producers"]
    assert producer["name"] == "daily.customers"
    assert producer["latestRun"]["id"] == run.runId
    assert producer["latestRun"]["state"] == "COMPLETED"
    assert producer["latestRun"]["startedAt"].startswith("2026-03-01T10:00:00")
    assert producer["latestRun"]["endedAt"].startswith("2026-03-01T10:05:00")


def test_schema_change_gets_a_new_version_with_diff(server: Server) -> None:
    with server.client("producer") as c:
        for second, fields in ((1, ("id", "email")), (2, ("id", "email")), (3, ("id", "phone"))):
            out = dataset(NS, "shop.public.users", s=schema(*fields))
            r = c.post("/api/v1/lineage", content=orjson.dumps(
                run_event("COMPLETE", time=f"2026-03-01T10:00:0{second}Z", outputs=[out])))
            assert r.status_code == 201, r.text
    data = server.graphql(DATASET_QUERY, ns=NS, name="shop.public.users")["dataset"]
    assert [v["version"] for v in data["schemaVersions"]] == [2, 1]
    assert data["schemaVersions"][0]["diff"] == {"added": ["phone"], "removed": ["email"]}


def test_bad_input_is_refused_precisely_and_dead_lettered(server: Server) -> None:
    with server.client("producer") as c:
        good = run_event("COMPLETE", outputs=[dataset(NS, "t", s=schema("a"))])
        assert c.post("/api/v1/lineage", content=orjson.dumps(good)).status_code == 201
        bad = run_event("COMPLETE", outputs=[{"namespace": NS, "name": "",
                                              "facets": {"schema": {"fields": [{"type": "x"}]}}}])
        bad["run"]["runId"] = "not-a-uuid"
        r = c.post("/api/v1/lineage", content=orjson.dumps(bad))
        assert r.status_code == 422
        assert r.headers["content-type"] == "application/problem+json"
        pointers = {e["pointer"] for e in r.json()["errors"]}
        assert pointers == {"/run/runId", "/outputs/0/name", "/outputs/0/facets/schema/fields/0/name"}
        r = c.post("/api/v1/lineage", content=b"{not json")
        assert r.status_code == 400 and "not valid JSON" in r.json()["errors"][0]["message"]
        too_big = b'{"x": "' + b"a" * (9 * 1024 * 1024) + b'"}'
        assert c.post("/api/v1/lineage", content=too_big).status_code == 413
        bomb = gzip.compress(b" " * (20 * 1024 * 1024))
        r = c.post("/api/v1/lineage", content=bomb, headers={"Content-Encoding": "gzip"})
        assert r.status_code == 413
    # What was stored before is intact, and the dead letters were kept.
    data = server.graphql(DATASET_QUERY, ns=NS, name="t")["dataset"]
    assert data["fields"] == [{"name": "a", "type": "string"}]


def test_roles_are_enforced(server: Server) -> None:
    event = orjson.dumps(run_event("START"))
    import httpx

    assert httpx.post(server.url + "/api/v1/lineage", content=event).status_code == 401
    r = httpx.post(server.url + "/api/v1/lineage", content=event,
                   headers={"Authorization": "Bearer hw_wrong"})
    assert r.status_code == 401
    with server.client("viewer") as c:
        r = c.post("/api/v1/lineage", content=event)
        assert r.status_code == 403 and "producer" in r.json()["detail"]
        assert c.post("/graphql", json={"query": "{ job(namespace:\"a\", name:\"b\") { id } }"}
                      ).json() == {"data": {"job": None}}
    assert httpx.post(server.url + "/graphql", json={"query": "{ __typename }"}).status_code == 401


def test_openapi_lists_the_single_event_endpoint_beside_the_rest(server: Server) -> None:
    import httpx

    paths = httpx.get(server.url + "/openapi.json").json()["paths"]
    assert "post" in paths["/api/v1/lineage"] and "get" in paths["/api/v1/lineage"]
    assert "post" in paths["/api/v1/lineage/batch"]


def test_batch_endpoint_reports_each_event_in_order(server: Server) -> None:
    events = [run_event("START", outputs=[dataset(NS, f"t{i}", s=schema("a"))]) for i in range(3)]
    broken = run_event("START")
    del broken["eventTime"]
    body = b"\n".join(orjson.dumps(e) for e in [events[0], broken, events[1], events[0], events[2]])
    with server.client("producer") as c:
        r = c.post("/api/v1/lineage/batch", content=body)
    assert r.status_code == 200
    answer = r.json()
    assert [x["status"] for x in answer["results"]] == [
        "created", "invalid", "created", "duplicate", "created"]
    assert answer["results"][1]["errors"] == [{"pointer": "/1/eventTime", "message": "Field required"}]
    assert (answer["created"], answer["duplicate"], answer["invalid"]) == (3, 1, 1)


def test_graphql_reads_and_writes_json_beyond_ascii_and_refuses_broken_bodies(
        server: Server) -> None:
    name = "ventes_été_💶"
    event = run_event("START", outputs=[dataset(NS, name, s=schema("prix_€"))])
    with server.client("producer") as c:
        assert c.post("/api/v1/lineage", content=orjson.dumps(event)).status_code == 201
    with server.client("viewer") as c:
        r = c.post("/graphql", json={"query": DATASET_QUERY, "variables": {"ns": NS, "name": name}})
        assert r.headers["content-type"].startswith("application/json")
        got = r.json()["data"]["dataset"]
        assert (got["name"], got["fields"]) == (name, [{"name": "prix_€", "type": "string"}])
        bad = c.post("/graphql", content=b'{"query": "{ __typename }"',
                     headers={"Content-Type": "application/json"})
        assert bad.status_code == 400 and "JSON" in bad.text
