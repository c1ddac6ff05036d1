"""Great Expectations 1.x results in the graph and in the gate: a real checkpoint with the
Headwater action, and the import of validation-result files."""

from __future__ import annotations

import json
import time
from pathlib import Path

import great_expectations as gx
import orjson
import pytest

from headwater.client import Client
from headwater.ingestion.great_expectations import quality_results
from headwater.integrations.great_expectations import HeadwaterAction
from tests.e2e.conftest import Server
from tests.factories import dataset, run_event, schema

NS = "file"
ORDERS = "/srv/data/orders.csv"
QUALITY = """query($ns: String!, $name: String!) { dataset(namespace: $ns, name: $name) {
  qualityResults(first: 10) { assertion field success source observedValue }
  failures: qualityResults(failuresOnly: true) { assertion }
  qualitySummary { status failing { assertion field } }
  fields { name qualityResults { assertion success } } } }"""


@pytest.fixture(params=["embedded"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def run_checkpoint(server: Server, tmp_path: Path) -> None:
    (tmp_path / "orders.csv").write_text("id,amount\n1,10\n2,250\n3,30\n")
    context = gx.get_context(mode="ephemeral")
    source = context.data_sources.add_pandas_filesystem(name="files", base_directory=tmp_path)
    asset = source.add_csv_asset(name="orders")
    batch = asset.add_batch_definition_path(name="orders.csv", path="orders.csv")
    suite = context.suites.add(gx.ExpectationSuite(name="orders_suite"))
    suite.add_expectation(gx.expectations.ExpectColumnValuesToNotBeNull(column="id"))
    suite.add_expectation(gx.expectations.ExpectTableRowCountToBeBetween(min_value=1,
                                                                         max_value=10))
    suite.add_expectation(gx.expectations.ExpectColumnMaxToBeBetween(column="amount",
                                                                     min_value=0, max_value=100))
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name="orders_check", data=batch, suite=suite))
    checkpoint = context.checkpoints.add(gx.Checkpoint(
        name="orders_checkpoint", validation_definitions=[definition],
        actions=[HeadwaterAction(name="headwater", url=server.url,
                                 token=server.token("producer"),
                                 dataset_map={"files/orders": f"{NS}|{ORDERS}"})]))
    result = checkpoint.run()
    assert not result.success  # one of the three expectations fails


def test_checkpoint_results_in_graphql_and_the_gate(server: Server, tmp_path: Path) -> None:
    run_checkpoint(server, tmp_path)
    data = server.graphql(QUALITY, ns=NS, name=ORDERS)["dataset"]
    got = {(r["assertion"], r["field"], r["success"], r["source"])
           for r in data["qualityResults"]}
    assert got == {("expect_column_values_to_not_be_null", "id", True, "great_expectations"),
                   ("expect_table_row_count_to_be_between", None, True, "great_expectations"),
                   ("expect_column_max_to_be_between", "amount", False, "great_expectations")}
    observed = {r["assertion"]: r["observedValue"] for r in data["qualityResults"]}
    assert observed["expect_column_max_to_be_between"] == 250
    assert observed["expect_table_row_count_to_be_between"] == 3
    assert data["failures"] == [{"assertion": "expect_column_max_to_be_between"}]
    assert data["qualitySummary"] == {"status": "failing", "failing": [
        {"assertion": "expect_column_max_to_be_between", "field": "amount"}]}
    # The gate reads the latest status per assertion: a job reading orders is denied.
    with server.client("producer") as c:
        answer = c.post("/api/v1/gate", json={
            "job": {"namespace": "etl", "name": "report"},
            "inputs": [{"namespace": NS, "name": ORDERS}], "outputs": []}).json()
    assert answer["decision"] == "deny"
    assert answer["reasons"][0]["message"] == (
        f"dataset:{NS}:{ORDERS} failed its latest quality checks: "
        "expect_column_max_to_be_between(amount)")


def test_openlineage_assertions_show_up_beside_ge_results(server: Server) -> None:
    checked = dataset(NS, ORDERS, s=schema("id", "amount"))
    checked["inputFacets"] = {"dataQualityAssertions": {"assertions": [
        {"assertion": "not_null", "success": True, "column": "id"}]}}
    with server.client("producer") as c:
        c.post("/api/v1/lineage", content=orjson.dumps(run_event("COMPLETE", inputs=[checked])))
    data = server.graphql(QUALITY, ns=NS, name=ORDERS)["dataset"]
    assert [(r["assertion"], r["source"]) for r in data["qualityResults"]] == [
        ("not_null", "openlineage")]
    id_field = next(f for f in data["fields"] if f["name"] == "id")
    assert id_field["qualityResults"] == [{"assertion": "not_null", "success": True}]
    assert data["qualitySummary"]["status"] == "passing"


def test_import_of_1000_expectation_results_under_a_second(server: Server,
                                                            tmp_path: Path) -> None:
    results = [{"success": i % 10 != 0,
                "expectation_config": {"type": "expect_column_values_to_be_unique",
                                       "kwargs": {"column": f"col_{i}"}},
                "result": {"observed_value": i}} for i in range(1000)]
    doc = {"success": False, "results": results, "meta": {
        "active_batch_definition": {"datasource_name": "warehouse", "data_asset_name": "wide"},
        "validation_time": "2026-03-01T10:00:00Z"}}
    path = tmp_path / "validation.json"
    path.write_text(json.dumps(doc))
    server.env["HEADWATER_TOKEN"] = server.token("producer")
    out = server.cli("quality", "import", str(path), "--url", server.url)
    assert json.loads(out.stdout) == {"created": 1000, "duplicate": 0, "failed": 100,
                                      "total": 1000}
    again = server.cli("quality", "import", str(path), "--url", server.url)
    assert json.loads(again.stdout)["duplicate"] == 1000
    # The import itself (parse the file, send, store durably), without the CLI's start-up:
    doc["meta"]["validation_time"] = "2026-03-02T10:00:00Z"
    started = time.perf_counter()
    with Client(server.url, server.token("producer")) as client:
        answer = client.send_quality(quality_results(json.loads(json.dumps(doc))),
                                     "great_expectations")
    elapsed = time.perf_counter() - started
    assert answer["created"] == 1000
    assert elapsed < 1.0, f"importing 1,000 results took {elapsed:.2f} s"
    q = """{ dataset(namespace: "ge://warehouse", name: "wide") {
             qualityResults(first: 500, failuresOnly: true) { field } } }"""
    assert len(server.graphql(q)["dataset"]["qualityResults"]) == 200


def test_checkpoints_configured_with_the_0_1_0_path_keep_working() -> None:
    from headwater.ingestion.ge_action import HeadwaterAction as Old

    assert Old is HeadwaterAction
