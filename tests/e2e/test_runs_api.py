"""Jobs and runs through GraphQL on a running server: an Airflow task retried under one
runId, run pages with cursors and filters, what a run read and wrote, and the facets a user
looks for (owners, tags, nominal time, data source, output statistics, column metrics)."""

from __future__ import annotations

import uuid

import orjson

from tests.e2e.conftest import Server
from tests.factories import dataset, run_event, schema, ts

PG = "postgres://db.internal:5432"
DAG = ("airflow", "shop_dag.load_orders")


def airflow(try_number: int, **more: dict) -> dict:
    return {"airflow": {"taskInstance": {"try_number": try_number}}, **more}


def send(server: Server, *events: dict) -> None:
    with server.client("producer") as c:
        r = c.post("/api/v1/lineage/batch", content=orjson.dumps(list(events)))
        assert r.status_code == 200, r.text


RUN = """query($id: ID!) { run(id: $id) {
  state errorMessage durationMs startedAt endedAt nominalStartTime tags
  attempts { number state errorMessage startedAt endedAt }
  inputs { version dataset { name dataSource { name uri } columnMetrics { field nullCount distinctCount } }
           columnMetrics { field nullCount } }
  outputs { version outputStatistics { rowCount size } facets }
  facets parent { id } children { totalCount edges { node { id } } }
  gateDecision { decision }
  job { name owners } } }"""


def test_a_retried_airflow_task_shows_its_attempts(server: Server) -> None:
    run_id, parent = str(uuid.uuid4()), str(uuid.uuid4())
    src = dataset(PG, "shop.raw_orders", s=schema("id", "email"),
                  ds={"dataSource": {"name": "shop-db", "uri": "postgres://db.internal:5432/shop"}})
    src["inputFacets"] = {"dataQualityMetrics": {"rowCount": 10, "columnMetrics": {
        "email": {"nullCount": 2, "distinctCount": 7}}}}
    out = dataset(PG, "shop.orders", s=schema("id"))
    out["outputFacets"] = {"outputStatistics": {"rowCount": 8, "size": 4096}}
    parent_facet = {"parent": {"run": {"runId": parent},
                               "job": {"namespace": "airflow", "name": "shop_dag"}}}
    common = {"inputs": [src], "outputs": [out], "job": DAG,
              "job_facets": {"ownership": {"owners": [{"name": "team:orders"}]}}}
    facets1 = airflow(1, **parent_facet, nominalTime={"nominalStartTime": "2026-03-01T00:00:00Z"},
                      tags={"tags": [{"key": "env", "value": "prod"}]})
    # Sent out of order, as transports do: try 2's COMPLETE first.
    send(server,
         run_event("COMPLETE", run_id=run_id, time=ts(30), run_facets=airflow(2, **parent_facet),
                   **common),
         run_event("START", run_id=run_id, time=ts(1), run_facets=facets1, **common),
         run_event("FAIL", run_id=run_id, time=ts(10), run_facets=airflow(
             1, **parent_facet, errorMessage={"message": "connection reset",
                                              "programmingLanguage": "python"}), **common),
         run_event("START", run_id=run_id, time=ts(20), run_facets=airflow(2, **parent_facet),
                   **common),
         run_event("COMPLETE", run_id=parent, time=ts(40), job=("airflow", "shop_dag")))
    with server.client("producer") as c:
        gate = run_event("START", run_id=run_id, time=ts(20), inputs=[src], outputs=[out],
                         job=DAG)
        assert c.post("/api/v1/gate", json=gate).status_code == 200

    run = server.graphql(RUN, id=run_id)["run"]
    assert (run["state"], run["errorMessage"]) == ("COMPLETED", None)
    assert [(a["number"], a["state"], a["errorMessage"]) for a in run["attempts"]] == [
        (1, "FAILED", "connection reset"), (2, "COMPLETED", None)]
    assert run["durationMs"] == 29_000
    assert run["nominalStartTime"].startswith("2026-03-01T00:00:00")
    assert run["tags"] == ["env:prod"]
    assert run["inputs"][0]["version"] == 1
    assert run["inputs"][0]["dataset"]["dataSource"] == {
        "name": "shop-db", "uri": "postgres://db.internal:5432/shop"}
    assert run["inputs"][0]["columnMetrics"] == [{"field": "email", "nullCount": 2}]
    assert run["inputs"][0]["dataset"]["columnMetrics"] == [
        {"field": "email", "nullCount": 2, "distinctCount": 7}]
    assert run["outputs"][0]["outputStatistics"] == {"rowCount": 8, "size": 4096}
    assert "airflow" in run["facets"] and "errorMessage" in run["facets"]
    assert run["parent"] == {"id": parent}
    assert run["job"] == {"name": DAG[1], "owners": ["team:orders"]}
    assert run["gateDecision"] is not None
    children = server.graphql(RUN, id=parent)["run"]["children"]
    assert children == {"totalCount": 1, "edges": [{"node": {"id": run_id}}]}


PAGE = """query($ns: String, $name: String, $after: String, $state: RunState, $since: DateTime) {
  runs(jobNamespace: $ns, jobName: $name, first: 2, after: $after, state: $state, since: $since) {
    totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id state } } } }"""


def test_runs_are_paged_newest_first_with_filters(server: Server) -> None:
    ids = [str(uuid.uuid4()) for _ in range(5)]
    send(server, *[run_event("FAIL" if i == 3 else "COMPLETE", run_id=r, time=ts(i), job=DAG)
                   for i, r in enumerate(ids)],
         run_event("COMPLETE", time=ts(50), job=("airflow", "other")))
    seen, after, totals = [], None, []
    while True:
        page = server.graphql(PAGE, ns=DAG[0], name=DAG[1], after=after)["runs"]
        totals.append(page["totalCount"])
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        if len(seen) == 2:  # a run arriving between pages never repeats or hides one
            send(server, run_event("COMPLETE", time=ts(59), job=DAG))
    assert seen == ids[::-1]
    assert totals == [5, 6, 6]  # the total counts what matches now
    failed = server.graphql(PAGE, ns=DAG[0], name=DAG[1], state="FAILED")["runs"]
    assert [e["node"]["id"] for e in failed["edges"]] == [ids[3]]
    recent = server.graphql(PAGE, since="2026-03-01T10:00:50Z")["runs"]
    assert recent["totalCount"] == 2
    jobs = server.graphql('{ jobs(search: "LOAD") { totalCount edges { node { name latestRun'
                          ' { state } } } } }')["jobs"]
    assert jobs["totalCount"] == 1
    assert jobs["edges"][0]["node"]["latestRun"] == {"state": "COMPLETED"}


def test_a_run_list_without_facets_still_shows_attempts_and_parent_facets(
        server: Server) -> None:
    """The list reads no facets when it shows none; a run's parent on the same page then
    still shows its own."""
    job = ("airflow", "lean_list")
    parent, child = str(uuid.uuid4()), str(uuid.uuid4())
    link = {"parent": {"run": {"runId": parent}, "job": {"namespace": job[0], "name": job[1]}}}
    send(server, run_event("START", run_id=parent, time=ts(1), job=job,
                           run_facets={"tags": {"tags": [{"key": "env", "value": "prod"}]}}),
         run_event("FAIL", run_id=parent, time=ts(2), job=job),
         run_event("START", run_id=parent, time=ts(3), job=job),
         run_event("COMPLETE", run_id=parent, time=ts(4), job=job),
         run_event("COMPLETE", run_id=child, time=ts(5), job=job, run_facets=link))
    page = server.graphql("""query($ns: String, $name: String) {
      runs(jobNamespace: $ns, jobName: $name) { edges { node {
        id attempts { number state } parent { id tags facets } } } } }""",
                          ns=job[0], name=job[1])["runs"]
    nodes = [e["node"] for e in page["edges"]]
    assert [(n["id"], [(a["number"], a["state"]) for a in n["attempts"]]) for n in nodes] == [
        (child, [(1, "COMPLETED")]), (parent, [(1, "FAILED"), (2, "COMPLETED")])]
    shown = nodes[0]["parent"]
    assert shown["id"] == parent and shown["tags"] == ["env:prod"]
    assert shown["facets"]["tags"]["tags"] == [{"key": "env", "value": "prod"}]


def test_bad_cursor_and_half_a_job_are_clear_errors(server: Server) -> None:
    with server.client("viewer") as c:
        r = c.post("/graphql", json={"query": '{ runs(after: "nope") { totalCount } }'}).json()
        assert "invalid cursor" in r["errors"][0]["message"]
        r = c.post("/graphql", json={"query": '{ runs(jobName: "x") { totalCount } }'}).json()
        assert "jobNamespace and jobName" in r["errors"][0]["message"]
        # Nested run lists multiply: the cost limit refuses before anything runs.
        q = ("{ runs(first: 500) { edges { node { children(first: 500) { edges { node {"
             " attempts { number } inputs { version } } } } } } } }")
        r = c.post("/graphql", json={"query": q}).json()
        assert r["errors"][0]["extensions"]["code"] == "TOO_EXPENSIVE"
