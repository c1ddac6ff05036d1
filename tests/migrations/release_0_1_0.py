"""What a store made by Headwater 0.1.0 (before schema versioning) holds, and how to check it.

``populate`` ran once with the 0.1.0 code to make the committed fixtures (``python -m
tests.migrations.release_0_1_0`` with that release on the path, see each backend's test);
``check`` runs with today's code on the migrated copy. Only store methods 0.1.0 had are used.
"""

from __future__ import annotations

from typing import Any

from tests.factories import column_lineage, dataset, run_event, schema, ts

NS = "postgres://warehouse:5432"
RUN_1 = "0b8c1a52-5d9f-4c53-9c1e-1d2f3a4b5c01"
RUN_2 = "0b8c1a52-5d9f-4c53-9c1e-1d2f3a4b5c02"
ERASURE_ID = "er-0001"


def events() -> list[dict[str, Any]]:
    raw = dataset(NS, "raw.customers", s=schema("id", "email", ("age", "int")))
    stg = dataset(NS, "stg.customers", s=schema("id", "email"),
                  c=column_lineage({"id": [(NS, "raw.customers", "id")],
                                    "email": [(NS, "raw.customers", "email")]}))
    return [
        run_event("START", run_id=RUN_1, job=("dbt", "stg_customers"), time=ts(1),
                  inputs=[raw], outputs=[stg]),
        run_event("COMPLETE", run_id=RUN_1, job=("dbt", "stg_customers"), time=ts(2),
                  inputs=[raw], outputs=[stg]),
        run_event("FAIL", run_id=RUN_2, job=("dbt", "stg_customers"), time=ts(3),
                  inputs=[raw], outputs=[dataset(NS, "stg.customers",
                                                 s=schema("id", "email", "phone"))]),
    ]


def populate(store: Any) -> None:
    from headwater.catalog.model import DecisionRecord
    from headwater.ingestion.normalize import normalize

    store.write_events([normalize(e) for e in events()])
    raw = f"dataset:{NS}:raw.customers"
    store.classify_field(raw, "email", ["pii.email"])
    store.tag_dataset(raw, ["owner-team:crm", "purpose:billing"])
    store.set_retention(raw, 30)
    store.log_decision(DecisionRecord(
        id="d-0001", time="2026-03-01T10:01:00.000000+00:00", principal="airflow",
        job_id="job:dbt:stg_customers", run_id=RUN_1, decision="deny",
        reasons=[{"code": "pii_without_purpose", "message": "email flows without a purpose"}],
        masks=[], policy_revision="sha256:0123456789abcdef", engine="embedded",
        input_digest="f" * 32))
    store.create_erasure(
        {"id": ERASURE_ID, "version": 1, "status": "PLANNED",
         "receivedAt": "2026-03-01T10:02:00.000Z", "subject": {"sealed": "x"}},
        [{"seq": 1, "event": "received", "at": "2026-03-01T10:02:00.000Z"}])
    store.add_token("a" * 64, "ci-producer", "producer")


def check(store: Any) -> None:
    """Every dataset, run, classification, decision, erasure request and token is intact."""
    raw = f"dataset:{NS}:raw.customers"
    stg = f"dataset:{NS}:stg.customers"
    assert store.event_count() == 3
    assert store.namespaces() == ["dbt", NS]
    d = store.dataset(NS, "raw.customers")
    assert d is not None and d.retention_days == 30
    assert sorted(d.tags) == ["owner-team:crm", "purpose:billing"]
    fields = store.fields([raw, stg])
    assert [(f.name, f.type, f.classifications) for f in fields[raw]] == [
        ("id", "string", []), ("email", "string", ["pii.email"]), ("age", "int", [])]
    assert [f.name for f in fields[stg]] == ["id", "email", "phone"]
    assert [v.version for v in store.schema_versions(stg)] == [2, 1]
    assert store.inherited_classifications([f"datasetField:{NS}:stg.customers:email"]) == {
        f"datasetField:{NS}:stg.customers:email": ["pii.email"]}
    runs = {r.id: r for r in store.runs("job:dbt:stg_customers")}
    assert runs[RUN_1].state == "COMPLETED" and runs[RUN_2].state == "FAILED"
    # Runs stored before attempts were kept get them from their replayed events, and are
    # listed newest first like new ones.
    transitions = store.run_transitions([RUN_1, RUN_2])
    assert sorted(t.event_type for t in transitions[RUN_1]) == ["COMPLETE", "START"]
    page, total = store.runs_page("job:dbt:stg_customers", None, None, None, None, 10, None)
    assert [r.id for r in page] == [RUN_2, RUN_1] and total == 2
    assert store.job_datasets(["job:dbt:stg_customers"])["job:dbt:stg_customers"] == (
        [raw], [stg])
    (decision,) = store.decisions()
    assert (decision.id, decision.decision, decision.run_id) == ("d-0001", "deny", RUN_1)
    erasure = store.erasure(ERASURE_ID)
    assert erasure is not None and erasure["status"] == "PLANNED"
    assert [e["seq"] for e in store.erasure_audit(ERASURE_ID)] == [1]
    assert store.token_role("a" * 64) == "producer"
    assert store.classification_holders(["pii.email"]) == [
        (raw, "email", "pii.email", True), (stg, "email", "pii.email", False)]
    # The search index, which 0.1.0 did not have, is built from what was stored.
    from headwater.catalog.search import search

    assert sorted((h.name, h.matched) for h in search(store, "customers", types=["DATASET"]).hits
                  ) == [("raw.customers", "name"), ("stg.customers", "name")]
    assert sorted((h.name, h.field) for h in search(store, "email", types=["FIELD"]).hits) == [
        ("raw.customers", "email"), ("stg.customers", "email")]
    assert [h.matched for h in search(store, "billing").hits] == ["tag"]
