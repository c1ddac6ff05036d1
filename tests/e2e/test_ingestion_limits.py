"""Ingestion's refusals over HTTP, on both backends: the status each typed error maps to, the
quality endpoint's body limit, and a run id reused by another job."""

from __future__ import annotations

import gzip
import uuid
import zlib
from collections.abc import Iterator

import orjson

from tests.e2e.conftest import Server
from tests.factories import dataset, run_event, schema, ts

NS = "postgres://db:5432"
RUN_QUERY = "query($ns: String!, $name: String!) { job(namespace: $ns, name: $name) { runs { id state } } }"


def test_refusals_map_to_their_statuses(server: Server) -> None:
    event = orjson.dumps(run_event("COMPLETE", outputs=[dataset(NS, "t", s=schema("a"))]))
    with server.client("producer") as c:
        r = c.post("/api/v1/lineage", content=event, headers={"Content-Encoding": "br"})
        assert r.status_code == 415, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert "gzip, deflate, identity" in r.json()["detail"]
        r = c.post("/api/v1/lineage", content=gzip.compress(event) + b"trailing garbage",
                   headers={"Content-Encoding": "gzip"})
        assert r.status_code == 400 and "not valid gzip" in r.json()["detail"]
        two = gzip.compress(event) + gzip.compress(event)
        r = c.post("/api/v1/lineage", content=two, headers={"Content-Encoding": "gzip"})
        assert r.status_code == 400 and "one JSON document" in r.json()["detail"]
        deep = event.replace(b'"run":{', b'"run":{"x":' + b"[" * 300 + b"]" * 300 + b",", 1)
        r = c.post("/api/v1/lineage", content=deep)
        assert r.status_code == 422 and r.json()["errors"][0]["pointer"].startswith("/run/x/0/0")
        r = c.post("/api/v1/lineage", content=event.replace(b'"name":"t"', b'"name":"t\\u0000"'))
        assert r.status_code == 422
        assert r.json()["errors"][0]["pointer"] == "/outputs/0/name"
        r = c.post("/api/v1/lineage/batch", content=event + b"\n{nope\n" + orjson.dumps(
            run_event("START")))
        assert r.status_code == 200, r.text
        assert (r.json()["created"], r.json()["invalid"]) == (2, 1)
        r = c.post("/api/v1/lineage", content=zlib.compress(event), headers={
            "Content-Encoding": "deflate"})
        assert r.status_code == 200  # the same event as the first one stored: a duplicate


def test_a_run_id_reused_by_another_job_is_a_409(server: Server) -> None:
    run = str(uuid.uuid4())
    first = run_event("START", run_id=run, job=("etl", "a"), time=ts(1))
    intruder = run_event("COMPLETE", run_id=run, job=("etl", "b"), time=ts(2))
    with server.client("producer") as c:
        assert c.post("/api/v1/lineage", content=orjson.dumps(first)).status_code == 201
        r = c.post("/api/v1/lineage", content=orjson.dumps(intruder))
        assert r.status_code == 409, r.text
        assert "job:etl:a" in r.json()["detail"] and "job:etl:b" in r.json()["detail"]
        r = c.post("/api/v1/lineage/batch", content=orjson.dumps(
            [intruder, run_event("COMPLETE", run_id=run, job=("etl", "a"), time=ts(3))]))
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["created"], body["conflict"]) == (1, 1)
        assert body["results"][0]["status"] == "conflict"
    data = server.graphql(RUN_QUERY, ns="etl", name="a")
    assert data["job"]["runs"] == [{"id": run, "state": "COMPLETED"}]
    assert server.graphql(RUN_QUERY, ns="etl", name="b")["job"] is None


def test_quality_bodies_over_the_limit_are_refused_before_parsing(server: Server) -> None:
    too_big = b'{"results": [' + b" " * (9 * 1024 * 1024) + b"]}"

    def chunked() -> Iterator[bytes]:
        for i in range(0, len(too_big), 1 << 20):
            yield too_big[i:i + (1 << 20)]

    with server.client("producer") as c:
        r = c.post("/api/v1/quality", content=too_big)
        assert r.status_code == 413, r.text
        assert "results per request" in r.json()["detail"]
        r = c.post("/api/v1/quality", content=chunked())  # no Content-Length to go by
        assert r.status_code == 413, r.text
