"""Steward mutations, inherited classifications and impact analysis over HTTP, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from tests.conformance.test_classifications import NS as CRM
from tests.conformance.test_classifications import chain_events
from tests.e2e.conftest import Server, free_port, server_env
from tests.lineage_graph import NS, events

CLASSIFY = """mutation($ns: String!, $name: String!, $field: String!, $c: [String!]!) {
  classifyField(namespace: $ns, name: $name, field: $field, classifications: $c) {
    name classifications inheritedClassifications } }"""


def test_classify_then_descendants_inherit(server: Server) -> None:
    with server.client("producer") as c:
        assert c.post("/api/v1/lineage/batch", content=orjson.dumps(chain_events())).status_code == 200
    field = server.graphql(CLASSIFY, role="steward", ns=CRM, name="S", field="email",
                           c=["pii.email"])["classifyField"]
    assert field == {"name": "email", "classifications": ["pii.email"],
                     "inheritedClassifications": []}
    q = """query($ns: String!) { t3: dataset(namespace: $ns, name: "T3") { classifications
             fields { name classifications inheritedClassifications } }
           t4: dataset(namespace: $ns, name: "T4") { classifications }
           pii: datasets(classification: "pii") { edges { node { name } } } }"""
    data = server.graphql(q, ns=CRM)
    assert data["t3"]["fields"] == [{"name": "mail", "classifications": [],
                                     "inheritedClassifications": ["pii.email"]}]
    assert data["t3"]["classifications"] == ["pii.email"]
    assert data["t4"]["classifications"] == []  # behind a masking derivation
    # "pii" covers pii.email; inherited counts, masked does not.
    assert [e["node"]["name"] for e in data["pii"]["edges"]] == ["S", "T1", "T2", "T3"]


def test_edits_need_the_steward_role_and_valid_names(server: Server) -> None:
    with server.client("producer") as c:
        c.post("/api/v1/lineage/batch", content=orjson.dumps(chain_events()))
    with server.client("viewer") as c:
        r = c.post("/graphql", json={"query": CLASSIFY, "variables": {
            "ns": CRM, "name": "S", "field": "email", "c": ["pii"]}}).json()
        assert "needs the 'steward' role" in r["errors"][0]["message"]
    with server.client("steward") as c:
        r = c.post("/graphql", json={"query": CLASSIFY, "variables": {
            "ns": CRM, "name": "S", "field": "email", "c": ["PII Email"]}}).json()
        assert "invalid classification 'PII Email'" in r["errors"][0]["message"]
        r = c.post("/graphql", json={"query": CLASSIFY, "variables": {
            "ns": CRM, "name": "S", "field": "nope", "c": ["pii"]}}).json()
        assert "S has no field 'nope'; its fields: email" in r["errors"][0]["message"]
    m = """mutation { setRetention(namespace: "%s", name: "S", days: 30) { retentionDays }
                      tagDataset(namespace: "%s", name: "S", tags: ["purpose:billing"]) { tags } }"""
    data = server.graphql(m % (CRM, CRM), role="steward")
    assert data == {"setRetention": {"retentionDays": 30}, "tagDataset": {"tags": ["purpose:billing"]}}


def test_impact_cli_exit_codes_and_report(server: Server) -> None:
    with server.client("producer") as c:
        c.post("/api/v1/lineage/batch", content=orjson.dumps(events()))
    server.env["HEADWATER_TOKEN"] = server.token("viewer")
    url = ["--url", server.url]
    breaking = server.cli("impact", "--dataset", f"{NS}:C", "--drop-field", "email",
                          "--fail-on-breaking", *url, check=False)
    assert breaking.returncode == 1, breaking.stderr
    assert "BREAKING" in breaking.stdout and "F.email_hash" in breaking.stdout
    assert "(5 datasets, 2 fields, 5 jobs downstream, 0 checks)" in " ".join(breaking.stdout.split())
    short = server.cli("impact", "--dataset", f"{NS}:C", "--drop-field", "email", "--limit", "1",
                       *url).stdout
    assert "datasets: the nearest 1 of 5 (--limit 0 for all" in " ".join(short.split())
    assert "F.email_hash" in short and "H.contact" not in short  # the nearest field only
    safe = server.cli("impact", "--dataset", f"{NS}:H", "--drop-dataset", "--fail-on-breaking",
                      *url, check=False)
    assert safe.returncode == 0 and "safe" in safe.stdout
    report = json.loads(server.cli("impact", "--dataset", f"{NS}:B", "--rename-field",
                                   "id=customer_key", "--json", *url).stdout)
    assert report["affectedFields"][0]["field"] == "customer_id"
    unknown = server.cli("impact", "--dataset", "nowhere:B", "--drop-field", "x", *url,
                         check=False)
    assert unknown.returncode == 2 and "known namespaces" in unknown.stderr
    # A typo in the name, a field that is not there: lookup errors (2), said without an HTTP
    # status; never 1, which CI reads as "breaking".
    typo = server.cli("impact", "--dataset", f"{NS}:Cx", "--drop-field", "email",
                      "--fail-on-breaking", *url, check=False)
    assert typo.returncode == 2, typo.stderr
    assert "Cx" in typo.stderr and "HTTP" not in typo.stderr
    down = server.cli("impact", "--dataset", f"{NS}:C", "--drop-field", "email",
                      "--url", "http://127.0.0.1:9", check=False)
    assert down.returncode == 3 and "cannot reach Headwater" in down.stderr
    server.env["HEADWATER_TOKEN"] = "not-a-token"
    refused = server.cli("impact", "--dataset", f"{NS}:C", "--drop-field", "email", *url,
                         check=False)
    assert refused.returncode == 4 and "401" in refused.stderr


PAGED = """query($first: Int!, $offset: Int!) { impactAnalysis(change: {namespace: "%s",
  name: "C", dropFields: ["email"]}) { breaking totals { fields datasets jobs checks }
  affectedDatasets(first: $first, offset: $offset) { name depth }
  affectedJobs(first: $first, offset: $offset) { name }
  affectedFields(first: $first, offset: $offset) { field depth path } } }""" % NS


def test_impact_report_is_paged_nearest_first_with_totals(server: Server) -> None:
    with server.client("producer") as c:
        c.post("/api/v1/lineage/batch", content=orjson.dumps(events()))
    whole = server.graphql(PAGED, first=100, offset=0)["impactAnalysis"]
    assert whole["totals"] == {"fields": 2, "datasets": 5, "jobs": 5, "checks": 0}
    assert [d["depth"] for d in whole["affectedDatasets"]] == [1, 1, 1, 1, 2]
    # Pages of two join up into the whole, in the same order.
    pages = [server.graphql(PAGED, first=2, offset=o)["impactAnalysis"] for o in (0, 2, 4)]
    for key in ("affectedDatasets", "affectedJobs", "affectedFields"):
        assert [x for p in pages for x in p[key]] == whole[key]
    assert all(p["totals"] == whole["totals"] for p in pages)
    with server.client("viewer") as c:
        bad = c.post("/graphql", json={"query": PAGED, "variables": {"first": 2, "offset": -1}}
                     ).json()
    assert "offset must be 0 or more" in bad["errors"][0]["message"]


def test_name_based_suggestions_are_opt_in_and_never_applied(
        tmp_path: Path, request: pytest.FixtureRequest, server: Server) -> None:
    from tests.factories import dataset, run_event, schema

    fields = ("email", "phone_number", "email_sent_at", "clientIp", "ssn", "amount", "mail")
    event = run_event("COMPLETE", job=("shop", "load"), outputs=[dataset(
        "pg", "customers", s=schema(*fields), t={"tags": {"tags": [
            {"key": "classification", "value": "pii.email", "field": "email"}]}})])
    q = """{ dataset(namespace: "pg", name: "customers") {
             classifications fields { name classifications suggestedClassifications } } }"""
    own = tmp_path / "suggesting"  # not the data directory of the `server` fixture
    own.mkdir()
    on = Server(url=f"http://127.0.0.1:{free_port()}", data_dir=own,
                env={**server_env("embedded", own, request),
                     "HEADWATER_CLASSIFICATION_SUGGESTIONS": "true"})
    on.start()
    try:
        for srv in (server, on):
            with srv.client("producer") as c:
                assert c.post("/api/v1/lineage", json=event).status_code == 201
        off = server.graphql(q)["dataset"]
        assert all(f["suggestedClassifications"] == [] for f in off["fields"])
        data = on.graphql(q)["dataset"]
        assert {f["name"]: f["suggestedClassifications"] for f in data["fields"]} == {
            "email": [],  # already classified
            "phone_number": ["pii.phone"], "email_sent_at": [], "clientIp": ["pii.ip_address"],
            "ssn": ["pii.national_id"], "amount": [], "mail": []}
        assert data["classifications"] == ["pii.email"], "suggestions are never applied"
    finally:
        on.stop()
