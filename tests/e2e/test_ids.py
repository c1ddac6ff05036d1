"""Ids over HTTP and the CLI: two datasets whose Marquez ids read the same are two datasets,
and an id string naming both is answered 409 / CONFLICT with both named, never with one."""

from __future__ import annotations

import orjson

from tests.e2e.conftest import Server
from tests.factories import dataset, run_event, schema

LINEAGE = """query($id: ID!) { lineage(nodeId: $id, direction: BOTH, depth: 2) {
  nodes { id namespace name } } }"""
DATASET = """query($ns: String!, $name: String!) { dataset(namespace: $ns, name: $name) {
  id tags fields { name } } }"""


def load(server: Server) -> None:
    hold = {"tags": {"tags": [{"key": "legal-hold", "value": "tax-law"}]}}
    events = [
        run_event("COMPLETE", job=("etl", "one"),
                  outputs=[dataset("col:a", "b", s=schema("x"), t=hold)]),
        run_event("COMPLETE", job=("etl", "two"), inputs=[dataset("col", "a:b", s=schema("y"))]),
    ]
    with server.client("producer") as c:
        r = c.post("/api/v1/lineage/batch", content=orjson.dumps(events))
        assert r.json()["created"] == 2, r.text


def test_colliding_datasets_are_two_and_an_ambiguous_id_names_both(server: Server) -> None:
    load(server)
    a = server.graphql(DATASET, ns="col:a", name="b")["dataset"]
    b = server.graphql(DATASET, ns="col", name="a:b")["dataset"]
    assert (a["id"], a["tags"], a["fields"]) == ("dataset:col:a:b", ["legal-hold:tax-law"],
                                                 [{"name": "x"}])
    assert (b["id"], b["tags"], b["fields"]) == ("dataset:col:a%3Ab", [], [{"name": "y"}])

    with server.client("viewer") as c:
        body = c.post("/graphql", json={"query": LINEAGE,
                                        "variables": {"id": "dataset:col:a:b"}}).json()
        (error,) = body["errors"]
        assert error["extensions"]["code"] == "CONFLICT"
        for named in ("namespace 'col:a', name 'b'", "namespace 'col', name 'a:b'",
                      "dataset(namespace:, name:)"):
            assert named in error["message"]

        r = c.get("/api/v1/lineage", params={"nodeId": "dataset:col:a:b"})
        assert r.status_code == 409
        detail = r.json()["detail"]
        assert "namespace 'col:a', name 'b'" in detail and "namespace 'col', name 'a:b'" in detail

        # The id the server gave, and the escaped spelling the error offers, name one each.
        r = c.get("/api/v1/lineage", params={"nodeId": b["id"]})
        assert r.status_code == 200
        assert {n["id"] for n in r.json()["graph"]} == {b["id"], "job:etl:two"}
    graph = server.graphql(LINEAGE, id="dataset:col%3Aa:b")["lineage"]
    assert {n["id"] for n in graph["nodes"]} == {a["id"], "job:etl:one"}

    # The CLI says the same, and exits non-zero.
    server.env["HEADWATER_TOKEN"] = server.token("viewer")
    cli = server.cli("lineage", "dataset:col:a:b", "--url", server.url, check=False)
    assert cli.returncode != 0
    assert "namespace 'col:a', name 'b'" in cli.stderr and "namespace 'col'" in cli.stderr
    # Another spelling of a node's id prints its tree.
    tree = server.cli("lineage", "dataset:col%3Aa:b", "--url", server.url).stdout
    assert tree.splitlines()[:3] == ["dataset col:a b", "↑ upstream", "└── job etl one"]

    # impact --dataset NS:NAME reads the same two ways: a usage error naming both.
    impact = server.cli("impact", "--dataset", "col:a:b", "--drop-field", "x", "--url",
                        server.url, check=False)
    assert impact.returncode == 2, impact.stderr
    assert "namespace 'col:a', name 'b'" in impact.stderr
    assert "namespace 'col', name 'a:b'" in impact.stderr
