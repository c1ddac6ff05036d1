"""Search and stewardship through GraphQL and the CLI, as a user would: find a column by name,
tag and classify from the shell with a steward token, find the result by its new tag."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conformance.test_search import ds, event
from tests.e2e.conftest import Server

NS = "postgres://db:5432"


def cli(server: Server, role: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**server.env, "HEADWATER_URL": server.url}
    if role:
        env["HEADWATER_TOKEN"] = server.token(role)
    return subprocess.run([sys.executable, "-m", "headwater", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_search_and_stewardship_from_the_shell(server: Server) -> None:
    with server.client("producer") as c:
        r = c.post("/api/v1/lineage", json=event(
            "load_orders", [ds("raw.orders", ["order_id", "email"], "Customer orders")],
            [ds("orders", ["order_id", "amount"])]))
        assert r.status_code == 201, r.text
    data = server.graphql("""{ search(query: "email", first: 1) { totalCount
        pageInfo { hasNextPage endCursor }
        edges { cursor node { type id name field matched highlight score } } } }""")["search"]
    assert data["totalCount"] == 1 and not data["pageInfo"]["hasNextPage"]
    assert data["edges"][0]["node"] == {
        "type": "FIELD", "id": f"datasetField:{NS}:raw.orders:email", "name": "raw.orders",
        "field": "email", "matched": "field", "highlight": "<mark>email</mark>", "score": 3.0}
    page = server.graphql("""query($after: String) { search(query: "ord", first: 2,
        after: $after, types: [DATASET, JOB]) { totalCount pageInfo { hasNextPage endCursor }
        edges { node { name } } } }""", after=None)["search"]
    assert page["totalCount"] == 3 and page["pageInfo"]["hasNextPage"]
    rest = server.graphql("""query($after: String) { search(query: "ord", first: 2,
        after: $after, types: [DATASET, JOB]) { pageInfo { hasNextPage }
        edges { node { name } } } }""", after=page["pageInfo"]["endCursor"])["search"]
    walked = [e["node"]["name"] for e in page["edges"] + rest["edges"]]
    assert walked[0] == "orders" and sorted(walked[1:]) == ["load_orders", "raw.orders"]
    assert not rest["pageInfo"]["hasNextPage"]

    found = cli(server, "viewer", "search", "email")
    assert found.returncode == 0, found.stderr
    assert "field    postgres://db:5432 raw.orders.email  (field: [email])" in found.stdout
    as_json = json.loads(cli(server, "viewer", "search", "ord", "--type", "job", "--json").stdout)
    assert [h["name"] for h in as_json["hits"]] == ["load_orders"]
    assert cli(server, "viewer", "search", "nothing-like-this").returncode == 1
    assert cli(server, "viewer", "search", "x" * 201).returncode == 2

    # A viewer may not tag: refused, 4; a steward may, and search sees it at once.
    assert cli(server, "viewer", "tag", f"{NS}:orders", "finance-gold").returncode == 4
    tagged = cli(server, "steward", "tag", f"{NS}:orders", "finance-gold", "--json")
    assert tagged.returncode == 0, tagged.stderr
    assert "finance-gold" in json.loads(tagged.stdout)["tags"]
    hit = json.loads(cli(server, "viewer", "search", "gold", "--json").stdout)["hits"][0]
    assert (hit["name"], hit["matched"]) == ("orders", "tag")
    assert cli(server, "steward", "untag", f"{NS}:orders", "finance-gold").returncode == 0
    assert cli(server, "viewer", "search", "gold").returncode == 1

    classified = cli(server, "steward", "classify", f"{NS}:orders", "amount", "sensitive.revenue")
    assert classified.returncode == 0, classified.stderr
    assert "classifications: sensitive.revenue" in classified.stdout
    hits = json.loads(cli(server, "viewer", "search", "revenue", "--type", "field",
                          "--json").stdout)["hits"]
    assert [(h["field"], h["matched"]) for h in hits] == [("amount", "classification")]

    kept = cli(server, "steward", "retention", f"{NS}:orders", "30", "--json")
    assert json.loads(kept.stdout)["retentionDays"] == 30
    unknown = cli(server, "steward", "retention", f"{NS}:nope", "30")
    assert unknown.returncode == 2 and "nope" in unknown.stderr
    assert cli(server, "steward", "tag", "nowhere:orders", "x").returncode == 2
    down = subprocess.run([sys.executable, "-m", "headwater", "search", "x", "--url",
                           "http://127.0.0.1:9"], capture_output=True, text=True, timeout=60)
    assert down.returncode == 3
