"""Lineage through the HTTP surfaces: GraphQL, the Marquez-shaped REST endpoint and the CLI."""

from __future__ import annotations

import orjson

from tests.e2e.conftest import Server
from tests.lineage_graph import NS, d, events, f, j

LINEAGE = """query($id: ID!, $dir: Direction!, $depth: Int!) {
  lineage(nodeId: $id, direction: $dir, depth: $depth) {
    nodes { id type namespace name field depth } edges { source target transformation } truncated
  } }"""


def load(server: Server) -> None:
    with server.client("producer") as c:
        r = c.post("/api/v1/lineage/batch", content=orjson.dumps(events()))
        assert r.json()["created"] == len(events())


def test_graphql_lineage_and_column_lineage(server: Server) -> None:
    load(server)
    g = server.graphql(LINEAGE, id=d("H"), dir="UPSTREAM", depth=2)["lineage"]
    assert {(n["id"], n["depth"]) for n in g["nodes"]} == {(d("H"), 0), (j("J6"), 1),
                                                           (d("F"), 2), (d("G"), 2)}
    assert g["truncated"] is True
    q = """query { columnLineage(namespace: "%s", name: "H", field: "contact") {
             nodes { id depth field } edges { source target transformation } truncated } }""" % NS
    g = server.graphql(q)["columnLineage"]
    assert [n["id"] for n in sorted(g["nodes"], key=lambda n: n["depth"])] == [
        f("H", "contact"), f("F", "email_hash"), f("C", "email"), f("A", "email")]
    assert {e["transformation"] for e in g["edges"]} == {"DIRECT/IDENTITY", "DIRECT/TRANSFORMATION"}


def test_dataset_producers_consumers_and_pagination(server: Server) -> None:
    load(server)
    q = """query($after: String) { datasets(namespace: "%s", first: 5, after: $after) {
             totalCount pageInfo { hasNextPage endCursor }
             edges { node { name producers { name } consumers { name } } } } }""" % NS
    first = server.graphql(q)["datasets"]
    assert first["totalCount"] == 8 and first["pageInfo"]["hasNextPage"] is True
    names = [e["node"]["name"] for e in first["edges"]]
    assert names == ["A", "B", "C", "D", "E"]
    c = first["edges"][2]["node"]
    assert c["producers"] == [{"name": "J1"}]
    assert [x["name"] for x in c["consumers"]] == ["J2", "J3", "J4", "J5"]
    rest = server.graphql(q, after=first["pageInfo"]["endCursor"])["datasets"]
    assert [e["node"]["name"] for e in rest["edges"]] == ["F", "G", "H"]
    assert rest["pageInfo"]["hasNextPage"] is False


def test_query_limits_give_clear_errors(server: Server) -> None:
    with server.client("viewer") as c:
        r = c.post("/graphql", json={"query": LINEAGE,
                                     "variables": {"id": d("C"), "dir": "BOTH", "depth": 50}})
        assert "depth must be between 0 and 20" in r.json()["errors"][0]["message"]
        deep = "{ job(namespace:\"etl\", name:\"J1\") { " + "outputs { consumers { " * 7 \
            + "id" + " } }" * 7 + " } }"
        r = c.post("/graphql", json={"query": deep})
        assert "exceeds maximum operation depth" in r.json()["errors"][0]["message"]
        r = c.post("/graphql", json={"query": "{ datasets(first: 100000) { totalCount } }"})
        assert "first must be between 0 and 500" in r.json()["errors"][0]["message"]


def test_marquez_shaped_rest_lineage(server: Server) -> None:
    load(server)
    with server.client("viewer") as c:
        r = c.get("/api/v1/lineage", params={"nodeId": j("J4"), "depth": 1})
        assert r.status_code == 200
        graph = {n["id"]: n for n in r.json()["graph"]}
        assert set(graph) == {j("J4"), d("C"), d("F")}
        assert graph[j("J4")]["type"] == "JOB"
        assert graph[j("J4")]["inEdges"] == [{"origin": d("C"), "destination": j("J4")}]
        assert graph[j("J4")]["outEdges"] == [{"origin": j("J4"), "destination": d("F")}]
        assert graph[d("C")]["data"]["namespace"] == NS
        assert c.get("/api/v1/lineage", params={"nodeId": d("nope")}).status_code == 404
        assert c.get("/api/v1/lineage", params={"nodeId": "nope"}).status_code == 400


def test_cli_prints_a_tree(server: Server) -> None:
    load(server)
    env_url = ["--url", server.url]
    server.env["HEADWATER_TOKEN"] = server.token("viewer")
    out = server.cli("lineage", d("C"), "--direction", "downstream", "--depth", "2", *env_url).stdout
    assert out.splitlines()[0] == f"dataset {NS} C"
    assert "├── job etl J2" in out and "│   └── dataset warehouse://dw:5432 D" in out
    assert out.rstrip().endswith("truncated: raise --depth to see more")
    as_json = orjson.loads(server.cli("lineage", d("C"), "--depth", "1", "--json",
                                      *env_url).stdout)
    assert len(as_json["nodes"]) == 6  # C, its producer J1, its 4 consumers
    missing = server.cli("lineage", d("nope"), *env_url, check=False)
    assert missing.returncode == 1 and "no node" in missing.stderr


def test_graphiql_page_loads_in_a_browser_but_queries_need_a_token(server: Server) -> None:
    import httpx

    # A browser is sent to the web UI's GraphiQL (offline assets, signed-in session)
    page = httpx.get(server.url + "/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 303 and page.headers["location"] == "/ui/graphiql"
    page = httpx.get(server.url + "/graphql", headers={"Accept": "text/html"},
                     follow_redirects=True)
    assert page.status_code == 200 and "/ui/login" in str(page.url)
    assert "next=/ui/graphiql" in str(page.url)
    r = httpx.get(server.url + "/graphql", params={"query": "{ namespaces }"},
                  headers={"Accept": "application/json"})
    assert r.status_code == 401
    sneaky = httpx.get(server.url + "/graphql", params={"query": "{ namespaces }"},
                       headers={"Accept": "text/html"})
    assert "namespaces" not in sneaky.text or "<html" in sneaky.text.lower()
    assert '"data"' not in sneaky.text
