"""The same decisions from the embedded engine (the bundle's Wasm module, and regopy) and a real
OPA server, for every rule."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from headwater.policies.engine import (
    BUNDLE,
    EmbeddedEngine,
    OpaEngine,
    PolicyEngine,
    PolicyEngineUnavailable,
)
from tests.harness.services import ensure_opa, opa_binary, start_opa


def field(name: str, *classes: str, inherited: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"name": name, "classifications": list(classes), "inherited": list(inherited)}


def ds(name: str, fields: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"id": f"dataset:pg:{name}", "namespace": "pg", "name": name, "tags": [],
            "retentionDays": None, "purposes": [], "piiAllowed": [],
            "quality": {"failed": [], "passed": []}, "fields": fields, **extra}


def flow(src: str, sf: str, dst: str, df: str, masking: bool = False) -> dict[str, Any]:
    return {"from": {"namespace": "pg", "name": src, "field": sf, "dataset": f"dataset:pg:{src}"},
            "to": {"namespace": "pg", "name": dst, "field": df, "dataset": f"dataset:pg:{dst}"},
            "transformation": "DIRECT/IDENTITY", "masking": masking}


def flow3(src: str, sf: str, dst: str, df: str, masking: bool = False) -> dict[str, Any]:
    """A flow as input version 3 has it: datasets by id alone."""
    return {"from": {"dataset": f"dataset:pg:{src}", "field": sf},
            "to": {"dataset": f"dataset:pg:{dst}", "field": df},
            "transformation": "DIRECT/IDENTITY", "masking": masking}


JOB = {"namespace": "etl", "name": "copy", "tags": []}
CUSTOMERS = ds("customers", [field("id"), field("email", "pii.email"),
                             field("phone", inherited=("pii.phone",))])


def gate_input(inputs: list, outputs: list, flows: list, purpose: str | None = None,
               job: dict | None = None) -> dict[str, Any]:
    return {"job": job or JOB, "context": {"purpose": purpose} if purpose else {},
            "inputs": inputs, "outputs": outputs, "flows": flows}


CASES = {
    "allow": (gate_input([ds("a", [field("x")])], [ds("b", [field("x")])],
                         [flow("a", "x", "b", "x")]),
              {"decision": "allow", "reasons": [], "masks": []}),
    "mask": (gate_input([CUSTOMERS], [ds("export", [field("email"), field("tel"), field("id")])],
                        [flow("customers", "email", "export", "email"),
                         flow("customers", "phone", "export", "tel"),
                         flow("customers", "id", "export", "id")]),
             {"decision": "mask", "reasons": [], "masks": [
                 {"dataset": "dataset:pg:export", "field": "email", "strategy": "hash"},
                 {"dataset": "dataset:pg:export", "field": "tel", "strategy": "partial"}]}),
    "pii_deny": (gate_input([CUSTOMERS], [ds("export", [field("email")])],
                            [flow("customers", "email", "export", "email")],
                            job={**JOB, "tags": ["masking:forbidden"]}),
                 {"decision": "deny", "masks": [], "reasons": [{
                     "rule": "pii_placement", "severity": "deny", "dataset": "dataset:pg:export",
                     "field": "email", "message": "pii.email (from dataset:pg:customers.email) "
                     "would flow into email of dataset:pg:export, which is not approved for it: "
                     "tag it pii-allowed:pii.email, or let the job mask"}]}),
    "retention": (gate_input([ds("a", [field("x")], retentionDays=30)],
                             [ds("b", [field("x")], retentionDays=90)],
                             [flow("a", "x", "b", "x")]),
                  {"decision": "deny", "masks": [], "reasons": [{
                      "rule": "retention", "severity": "deny", "dataset": "dataset:pg:b",
                      "field": None, "message": "dataset:pg:b keeps data 90 days, longer than "
                      "the 30 days its inputs allow: lower its retention"}]}),
    "purpose": (gate_input([ds("a", [], purposes=["billing"])], [], [], purpose="marketing"),
                {"decision": "deny", "masks": [], "reasons": [{
                    "rule": "purpose", "severity": "deny", "dataset": "dataset:pg:a",
                    "field": None,
                    "message": "dataset:pg:a may only be processed for billing, not for marketing"
                }]}),
    "quality": (gate_input([ds("a", [], quality={"failed": ["not_null(id)"], "passed": []})],
                           [], []),
                {"decision": "deny", "masks": [], "reasons": [{
                    "rule": "quality", "severity": "deny", "dataset": "dataset:pg:a",
                    "field": None,
                    "message": "dataset:pg:a failed its latest quality checks: not_null(id)"}]}),
    # regopy 1.5 orders numbers as strings in min/max/sort: these two cases caught the embedded
    # engine picking "pii" over "pii.customer_id" (3 > 15) and 365 days as shorter than 90.
    "mask_most_specific_and_strongest": (
        gate_input([ds("orders", [field("cust", "pii.customer_id"), field("email", "pii.email"),
                                  field("phone", "pii.phone")])],
                   [ds("out", [field("c"), field("contact")])],
                   [flow("orders", "cust", "out", "c"), flow("orders", "email", "out", "contact"),
                    flow("orders", "phone", "out", "contact")]),
        {"decision": "mask", "reasons": [], "masks": [
            {"dataset": "dataset:pg:out", "field": "c", "strategy": "hash"},
            {"dataset": "dataset:pg:out", "field": "contact", "strategy": "hash"}]}),
    "retention_shortest_input": (
        gate_input([ds("a", [field("x")], retentionDays=90),
                    ds("c", [field("y")], retentionDays=365)],
                   [ds("b", [field("x"), field("y")], retentionDays=180)],
                   [flow("a", "x", "b", "x"), flow("c", "y", "b", "y")]),
        {"decision": "deny", "masks": [], "reasons": [{
            "rule": "retention", "severity": "deny", "dataset": "dataset:pg:b", "field": None,
            "message": "dataset:pg:b keeps data 180 days, longer than the 90 days its inputs "
            "allow: lower its retention"}]}),
    "retention_pii_output_without_retention": (
        gate_input([{**CUSTOMERS, "retentionDays": 365}],
                   [ds("crm", [field("email")], piiAllowed=["pii"])],
                   [flow("customers", "email", "crm", "email")]),
        {"decision": "deny", "masks": [], "reasons": [{
            "rule": "retention", "severity": "deny", "dataset": "dataset:pg:crm", "field": None,
            "message": "dataset:pg:crm has no retention but receives PII from "
            "dataset:pg:customers, kept at most 365 days: set a retention on it"}]}),
    "no_flows_known_pii_denies": (
        gate_input([CUSTOMERS], [ds("export", [])], []),
        {"decision": "deny", "masks": [], "reasons": [{
            "rule": "pii_placement", "severity": "deny", "dataset": "dataset:pg:export",
            "field": None, "message": f"{c} (from dataset:pg:customers.{f}) would flow into an "
            f"unknown column of dataset:pg:export, which is not approved for it: tag it "
            f"pii-allowed:{c}, or let the job mask"} for f, c in (("email", "pii.email"),
                                                                  ("phone", "pii.phone"))]}),
    # Input version 2 (policies/rego/README.md): Headwater sends only classified fields and
    # the flows that start from them, says whether flows are known, and where they all start.
    "v2_known_flows_none_classified_allows": (
        {**gate_input([ds("customers", [field("email", "pii.email")], fieldCount=3)],
                      [ds("export", [], fieldCount=1, fedBy=["dataset:pg:customers"])], []),
         "flowsKnown": True, "flowSources": ["dataset:pg:customers"], "inputVersion": 2},
        {"decision": "allow", "reasons": [], "masks": []}),
    "v2_retention_reads_every_flow_source": (
        {**gate_input([ds("a", [field("email", "pii.email")], retentionDays=30),
                       ds("b", [field("phone", "pii.phone")], retentionDays=90)],
                      [ds("o", [], piiAllowed=["pii"],
                          fedBy=["dataset:pg:a", "dataset:pg:b"])],
                      [flow("b", "phone", "o", "phone")]),  # a's flow is of an unclassified id
         "flowsKnown": True, "flowSources": ["dataset:pg:a", "dataset:pg:b"],
         "inputVersion": 2},
        {"decision": "deny", "masks": [], "reasons": [{
            "rule": "retention", "severity": "deny", "dataset": "dataset:pg:o", "field": None,
            "message": f"dataset:pg:o has no retention but receives PII from dataset:pg:{i}, "
            f"kept at most {d} days: set a retention on it"} for i, d in (("a", 30), ("b", 90))]}),
    # Input version 3: a flow names its datasets by id alone, a field what the rules read.
    "v3_masks_what_the_output_is_not_approved_for": (
        {**gate_input([CUSTOMERS],
                      [ds("export", [], piiAllowed=["pii.phone"], fedBy=["dataset:pg:customers"]),
                       ds("crm", [], piiAllowed=["pii"], fedBy=["dataset:pg:customers"])],
                      [flow3("customers", "email", "export", "email"),
                       flow3("customers", "phone", "export", "tel"),
                       flow3("customers", "email", "crm", "email"),
                       flow3("customers", "phone", "crm", "tel", masking=True)]),
         "flowsKnown": True, "flowSources": ["dataset:pg:customers"], "inputVersion": 3},
        {"decision": "mask", "reasons": [], "masks": [
            {"dataset": "dataset:pg:export", "field": "email", "strategy": "hash"}]}),
    "v3_denies_what_the_job_may_not_mask": (
        {**gate_input([CUSTOMERS], [ds("export", [], piiAllowed=["pii.email"],
                                       fedBy=["dataset:pg:customers"])],
                      [flow3("customers", "email", "export", "email"),
                       flow3("customers", "phone", "export", "tel")],
                      job={**JOB, "tags": ["masking:forbidden"]}),
         "flowsKnown": True, "flowSources": ["dataset:pg:customers"], "inputVersion": 3},
        {"decision": "deny", "masks": [], "reasons": [{
            "rule": "pii_placement", "severity": "deny", "dataset": "dataset:pg:export",
            "field": "tel", "message": "pii.phone (from dataset:pg:customers.phone) would flow "
            "into tel of dataset:pg:export, which is not approved for it: tag it "
            "pii-allowed:pii.phone, or let the job mask"}]}),
    "allow_each_rule_satisfied": (
        gate_input([ds("a", [field("x")], retentionDays=30, purposes=["billing"],
                       quality={"failed": [], "passed": ["row_count"]}), CUSTOMERS],
                   [ds("b", [field("x"), field("email")], retentionDays=30,
                       piiAllowed=["pii.email"])],
                   [flow("a", "x", "b", "x"), flow("customers", "email", "b", "email"),
                    flow("customers", "phone", "b", "tel", masking=True)],
                   purpose="billing"),
        {"decision": "allow", "reasons": [], "masks": []}),
    # Unknown datasets (issue 17): an input the catalog never saw is denied in a strict
    # environment (data.json: prod, production) and a warning elsewhere; an unknown output is
    # a warning everywhere.
    **{f"unknown_input_{env}": (
        {**gate_input([ds("typo", [], known=False)], [ds("new", [], known=False)], []),
         "context": {"environment": env}},
        {"decision": verdict, "masks": [], "reasons": [
            {"rule": "unknown_dataset", "severity": severity, "dataset": "dataset:pg:typo",
             "field": None, "message": "dataset:pg:typo is an input the catalog has never "
             "seen: check its namespace and name, or let its producer report it first"},
            {"rule": "unknown_dataset", "severity": "warn", "dataset": "dataset:pg:new",
             "field": None, "message": "dataset:pg:new is an output the catalog has never "
             "seen: this run creates it, or its name is mistyped"}]})
       for env, verdict, severity in (("prod", "deny", "deny"), ("dev", "allow", "warn"))},
}


def normalised(decision: dict[str, Any]) -> dict[str, Any]:
    key = lambda d: sorted(d.items(), key=str)  # noqa: E731
    return {"decision": decision["decision"], "reasons": sorted(decision["reasons"], key=key),
            "masks": sorted(decision["masks"], key=key)}


@pytest.fixture(scope="module")
def stock_opa() -> Iterator[str]:
    """A stock OPA that loaded the bundle directory itself."""
    service = start_opa(str(BUNDLE))
    yield service.url
    service.stop()


@pytest.fixture(params=["embedded", "regopy", "opa"])
def engine(request: pytest.FixtureRequest) -> PolicyEngine:
    if request.param == "embedded":
        engine = EmbeddedEngine(opa=None)
        assert engine.evaluator == "wasm"  # the shipped module is current
        return engine
    if request.param == "regopy":
        return EmbeddedEngine(wasm=False)
    return OpaEngine(request.getfixturevalue("stock_opa"))


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_rule_on_each_engine(engine: PolicyEngine, case: str) -> None:
    given, expected = CASES[case]
    assert normalised(engine.evaluate("headwater/gate/decision", given)) == normalised(expected)


@pytest.mark.parametrize("wasm", [True, False], ids=["wasm", "regopy"])
def test_stock_opa_and_embedded_agree_on_every_case(stock_opa: str, wasm: bool) -> None:
    embedded, opa = EmbeddedEngine(opa=None, wasm=wasm), OpaEngine(stock_opa)
    for given, _ in CASES.values():
        assert normalised(embedded.evaluate("headwater/gate/decision", given)) == normalised(
            opa.evaluate("headwater/gate/decision", given))
    held = {"dataset": {"tags": ["legal-hold:case-17", "finance"]}}
    assert embedded.evaluate("headwater/erasure/decision", held) == opa.evaluate(
        "headwater/erasure/decision", held)
    plan = {"datasets": [{"id": "a", "tags": ["tax"]}, {"id": "b", "tags": []},
                         {"id": "c", "tags": ["erasure-action:anonymise", "erasure-strategy:null"]}]}
    decided = embedded.evaluate("headwater/erasure/plan", plan)
    assert decided == opa.evaluate("headwater/erasure/plan", plan)
    assert (decided["a"]["exempt"], decided["b"]["action"], decided["c"]["strategy"]) == (
        True, "delete", "null")


def test_bundle_pushed_into_an_empty_opa() -> None:
    service = ensure_opa()
    try:
        engine = OpaEngine(service.url)
        engine.push_bundle()
        given, expected = CASES["mask"]
        assert normalised(engine.evaluate("headwater/gate/decision", given)) == normalised(expected)
    finally:
        service.stop()


def test_opa_killed_then_back() -> None:
    service = start_opa(str(BUNDLE))
    port = int(service.url.rsplit(":", 1)[1])
    engine = OpaEngine(service.url, timeout=1.0)
    given, expected = CASES["allow"]
    assert normalised(engine.evaluate("headwater/gate/decision", given)) == normalised(expected)
    service.stop()
    with pytest.raises(PolicyEngineUnavailable, match="did not answer"):
        engine.evaluate("headwater/gate/decision", given)
    with pytest.raises(PolicyEngineUnavailable):
        engine.ping()
    again = start_opa(str(BUNDLE), port=port)
    try:
        assert normalised(engine.evaluate("headwater/gate/decision", given)) == normalised(expected)
    finally:
        again.stop()


def test_opa_test_passes_on_the_bundle() -> None:
    result = subprocess.run([str(opa_binary()), "test", str(BUNDLE), "-v"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAIL" not in result.stdout and "PASS: " in result.stdout
