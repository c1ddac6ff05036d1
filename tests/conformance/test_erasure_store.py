"""What the erasure workflow needs from a store: who holds a classification (directly or
downstream), what derives from it, and request documents written compare-and-set beside an
append-only audit trail. Both backends."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from headwater.catalog import Store, StoreError
from headwater.catalog.ids import dataset_id, field_id, job_id
from headwater.ingestion.normalize import normalize
from tests.conformance.test_classifications import CHAIN, NS, chain_events
from tests.factories import dataset, run_event, schema


def ds(name: str) -> str:
    return dataset_id(NS, name)


def test_holders_direct_and_inherited_stop_at_masking_and_declassified(store: Store) -> None:
    store.write_events([normalize(e) for e in chain_events()])
    store.classify_field(ds("S"), "email", ["pii.email"])
    store.classify_field(ds("T2"), "email", ["pii.customer_id", "pii"])
    holders = store.classification_holders(["pii.email"])
    assert holders == [(ds("S"), "email", "pii.email", True),
                       (ds("T1"), "email", "pii.email", False),
                       (ds("T2"), "email", "pii.email", False),
                       (ds("T3"), "mail", "pii.email", False)]  # T4 is behind a masking edge
    store.declassify_edge(field_id(NS, "T1", "email"), field_id(NS, "T2", "email"))
    assert [h[0] for h in store.classification_holders(["pii.email"])] == [ds("S"), ds("T1")]
    # Two kinds at once; "pii" alone is not "pii.email" or "pii.customer_id".
    both = store.classification_holders(["pii.email", "pii.customer_id"])
    assert (ds("T2"), "email", "pii.customer_id", True) in both
    assert (ds("T3"), "mail", "pii.customer_id", False) in both
    assert all(c != "pii" for _, _, c, _ in both)


def test_holders_match_sub_classifications_and_survive_cycles(store: Store) -> None:
    loop = [run_event("COMPLETE", job=("crm", f"j{a}{b}"), inputs=[dataset(NS, a, s=schema("e"))],
                      outputs=[dataset(NS, b, s=schema("e"), c={"columnLineage": {"fields": {
                          "e": {"inputFields": [{"namespace": NS, "name": a, "field": "e"}]}}}})])
            for a, b in (("A", "B"), ("B", "C"), ("C", "A"))]
    store.write_events([normalize(e) for e in loop])
    store.classify_field(ds("A"), "e", ["pii.email.work"])
    holders = store.classification_holders(["pii.email"])
    assert holders == [(ds("A"), "e", "pii.email.work", True),
                       (ds("B"), "e", "pii.email.work", False),
                       (ds("C"), "e", "pii.email.work", False)]
    assert store.classification_holders(["pii.emai"]) == []


def test_holders_from_tags_facet_and_direct_wins_over_inherited(store: Store) -> None:
    store.write_events([normalize(e) for e in chain_events(tag_source=True)])  # S.email tagged
    store.classify_field(ds("S"), "email", ["pii.email"])  # tagged and steward-set: once
    store.classify_field(ds("T2"), "email", ["pii.email"])  # also inherits it from S
    assert store.classification_holders(["pii.email"]) == [
        (ds("S"), "email", "pii.email", True), (ds("T1"), "email", "pii.email", False),
        (ds("T2"), "email", "pii.email", True), (ds("T3"), "mail", "pii.email", False)]


def test_holders_match_whole_labels_only(store: Store) -> None:
    store.write_events([normalize(e) for e in chain_events()])
    store.classify_field(ds("S"), "email", ["pii.email"])
    store.classify_field(ds("T4"), "mail_hash", ["pii.emailx", "pii.email-hash"])
    # "pii" takes in everything under it; "pii.email" is not a prefix of "pii.emailx".
    assert {h[2] for h in store.classification_holders(["pii"])} == {
        "pii.email", "pii.emailx", "pii.email-hash"}
    assert [h[0] for h in store.classification_holders(["pii.email"])] == [
        ds("S"), ds("T1"), ds("T2"), ds("T3")]
    assert store.classification_holders([]) == []


def test_downstream_dataset_edges(store: Store) -> None:
    store.write_events([normalize(e) for e in chain_events()])
    edges = store.downstream_dataset_edges([ds("T3")])
    assert edges == [(ds("T3"), job_id("crm", "make_T4"), ds("T4")),
                     (ds("T4"), job_id("crm", "make_T5"), ds("T5"))]
    assert len(store.downstream_dataset_edges([ds("S")])) == len(CHAIN) - 1
    assert store.downstream_dataset_edges([ds("T5")]) == []


def step(a: str, b: str) -> tuple[str, str, str]:
    return ds(a), job_id("crm", f"make_{b}"), ds(b)


def test_downstream_dataset_edges_end_on_cycles(store: Store) -> None:
    loop = [run_event("COMPLETE", job=("crm", f"make_{b}"), inputs=[dataset(NS, a)],
                      outputs=[dataset(NS, b)]) for a, b in (("A", "B"), ("B", "C"), ("C", "A"))]
    store.write_events([normalize(e) for e in loop])
    everything = [step("A", "B"), step("B", "C"), step("C", "A")]
    assert store.downstream_dataset_edges([ds("B")]) == everything
    assert store.downstream_dataset_edges([ds("B")]) == everything


def doc(id_: str, version: int = 1, status: str = "RECEIVED", at: str = "2026-11-01T00:00Z"
        ) -> dict:
    return {"id": id_, "version": version, "status": status, "receivedAt": at,
            "tasks": [{"id": "t1", "rows": None}], "nested": {"a": [1, 2.5, "x"]}}


def test_erasure_documents_compare_and_set_with_audit(store: Store) -> None:
    store.create_erasure(doc("r1"), [{"seq": 1, "event": "filed"}])
    store.create_erasure(doc("r0", at="2026-10-01T00:00Z"), [{"seq": 1, "event": "filed"}])
    with pytest.raises(StoreError):
        store.create_erasure(doc("r1"), [])
    assert store.erasure("r1") == doc("r1") and store.erasure("nope") is None

    assert store.update_erasure(doc("r1", 2, "PLANNED"), 1, [{"seq": 2, "event": "planned"}])
    # A stale writer loses and writes nothing, not even its audit entries.
    assert not store.update_erasure(doc("r1", 2, "FAILED"), 1, [{"seq": 3, "event": "stale"}])
    assert store.erasure("r1")["status"] == "PLANNED"
    # A duplicate audit seq fails the whole write.
    with pytest.raises(StoreError):
        store.update_erasure(doc("r1", 3, "RUNNING"), 2, [{"seq": 2, "event": "dup"}])
    assert store.erasure("r1")["version"] == 2
    assert [e["event"] for e in store.erasure_audit("r1")] == ["filed", "planned"]

    assert [d["id"] for d in store.erasures()] == ["r0", "r1"]
    assert [d["id"] for d in store.erasures(["PLANNED", "RUNNING"])] == ["r1"]
    assert store.erasures(["COMPLETED"]) == []


def test_compare_and_set_on_an_unknown_id_writes_nothing(store: Store) -> None:
    assert not store.update_erasure(doc("ghost", 2), 1, [{"seq": 1, "event": "x"}])
    assert store.erasure("ghost") is None and store.erasure_audit("ghost") == []
    assert store.erasures() == []


def test_create_with_a_repeated_seq_writes_nothing(store: Store) -> None:
    with pytest.raises(StoreError):
        store.create_erasure(doc("r1"), [{"seq": 1, "event": "a"}, {"seq": 1, "event": "b"}])
    assert store.erasure("r1") is None and store.erasure_audit("r1") == []
    store.create_erasure(doc("r1"), [{"seq": 1, "event": "a"}])  # the id is still free


def test_audit_in_seq_order_exactly_as_written_and_per_request(store: Store) -> None:
    first = [{"seq": 3, "event": "c", "detail": {"rows": 0, "ok": False, "tasks": ["t1"]}},
             {"seq": 1, "event": "a", "hash": "ab" * 32, "note": "naïve ✓", "n": None}]
    store.create_erasure(doc("r1"), first)
    store.create_erasure(doc("r2"), [{"seq": 1, "event": "other"}])
    assert store.update_erasure(doc("r1", 2), 1, [{"seq": 2, "event": "b", "x": 1.5}])
    assert store.erasure_audit("r1") == [first[1], {"seq": 2, "event": "b", "x": 1.5}, first[0]]
    assert store.erasure_audit("r2") == [{"seq": 1, "event": "other"}]
    assert store.erasure("r1") == doc("r1", 2)


def test_erasures_oldest_first_within_first(store: Store) -> None:
    for i, at in enumerate(["2026-11-03T00:00Z", "2026-11-01T00:00Z", "2026-11-02T00:00Z"]):
        store.create_erasure(doc(f"r{i}", status="RUNNING" if i else "PLANNED", at=at), [])
    assert [d["id"] for d in store.erasures()] == ["r1", "r2", "r0"]
    assert [d["id"] for d in store.erasures(first=2)] == ["r1", "r2"]
    assert [d["id"] for d in store.erasures(["RUNNING"], first=1)] == ["r1"]
    assert [d["id"] for d in store.erasures(["PLANNED"])] == ["r0"]


def test_embedded_audit_rows_cannot_be_rewritten(tmp_path: Path) -> None:
    from headwater.catalog import open_store

    store = open_store("embedded", path=tmp_path / "headwater.db")
    store.create_erasure(doc("r1"), [{"seq": 1, "event": "filed"}])
    store.close()
    with sqlite3.connect(tmp_path / "headwater.db") as db:
        for sql in ("UPDATE erasure_audit SET entry = x'7b7d'", "DELETE FROM erasure_audit"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                db.execute(sql)
