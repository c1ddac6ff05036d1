"""Nodes whose ids read the same in the Marquez form stay two nodes, and an id string that
could mean either is answered with an error naming both. Both backends."""

from __future__ import annotations

import pytest

from headwater.catalog import Store
from headwater.catalog.ids import dataset_id, field_id, job_id
from headwater.catalog.resolving import AmbiguousId, resolve
from headwater.ingestion.normalize import normalize
from headwater.lineage.graph import lineage
from tests.factories import column_lineage, dataset, run_event, schema

# Namespace "col:a" with name "b", and namespace "col" with name "a:b": both read
# "dataset:col:a:b" in the Marquez form.
A = ("col:a", "b")
B = ("col", "a:b")
C = ("col", "c")
HOLD = {"tags": {"tags": [{"key": "legal-hold", "value": "tax-law"}]}}


def load(store: Store) -> None:
    store.write_events([normalize(e) for e in (
        run_event("COMPLETE", job=("etl", "one"),
                  outputs=[dataset(*A, s=schema("x", "email"), t=HOLD)]),
        run_event("COMPLETE", job=("etl", "two:b"), inputs=[dataset(*B, s=schema("y"))],
                  outputs=[dataset(*C, s=schema("y"),
                                   c=column_lineage({"y": [(*B, "y")]}))]),
    )])
    store.classify_field(dataset_id(*B), "y", ["pii.email"])
    store.tag_dataset(dataset_id(*A), ["owner-team:a"])
    store.set_retention(dataset_id(*B), 7)


def test_datasets_whose_marquez_ids_read_the_same_stay_apart(store: Store) -> None:
    load(store)
    a, b, c = dataset_id(*A), dataset_id(*B), dataset_id(*C)
    assert (a, b) == ("dataset:col:a:b", "dataset:col:a%3Ab")
    da, db = store.dataset(*A), store.dataset(*B)
    assert da is not None and db is not None and (da.id, db.id) == (a, b)
    # Tags (a legal hold among them) and retention stay with their own dataset.
    assert (sorted(da.tags), da.retention_days) == (["legal-hold:tax-law", "owner-team:a"], None)
    assert (db.tags, db.retention_days) == ([], 7)
    # Schemas and classifications too.
    fields = store.fields([a, b])
    assert [(f.name, f.classifications) for f in fields[a]] == [("x", []), ("email", [])]
    assert [(f.name, f.classifications) for f in fields[b]] == [("y", ["pii.email"])]
    assert [len(store.schema_versions(i)) for i in (a, b)] == [1, 1]
    assert store.classification_holders(["pii.email"]) == [
        (b, "y", "pii.email", True), (c, "y", "pii.email", False)]
    assert store.inherited_classifications([field_id(*C, "y")]) == {
        field_id(*C, "y"): ["pii.email"]}
    # And lineage: job one wrote the first, the second feeds job two.
    assert {n.id for n in store.walk(a, "dataset", "UPSTREAM", 5, 100).nodes} == {
        a, job_id("etl", "one")}
    assert {n.id for n in store.walk(b, "dataset", "DOWNSTREAM", 5, 100).nodes} == {
        b, job_id("etl", "two:b"), c}


def test_an_id_string_naming_two_datasets_is_an_error_naming_both(store: Store) -> None:
    load(store)
    with pytest.raises(AmbiguousId) as ambiguous:
        lineage(store, "dataset:col:a:b")
    message = str(ambiguous.value)
    assert "namespace 'col:a', name 'b'" in message and "namespace 'col', name 'a:b'" in message
    assert "dataset(namespace:, name:)" in message
    # The escaped ids the error offers name one node each.
    assert "'dataset:col:a%3Ab'" in message and "'dataset:col%3Aa:b'" in message
    assert {n.id for n in lineage(store, "dataset:col:a%3Ab").nodes} == {
        dataset_id(*B), job_id("etl", "two:b"), dataset_id(*C)}
    assert {n.id for n in lineage(store, "dataset:col%3Aa:b", "UPSTREAM").nodes} == {
        dataset_id(*A), job_id("etl", "one")}


def test_a_raw_marquez_id_of_one_node_still_finds_it(store: Store) -> None:
    load(store)
    # Job "two:b" in namespace "etl": only one node reads "job:etl:two:b".
    assert resolve(store, "job:etl:two:b") == "job:etl:two%3Ab"
    assert dataset_id(*C) in {n.id for n in lineage(store, "job:etl:two:b").nodes}
    # A field of dataset ("col", "a:b"), typed raw: one field reads that way.
    graph = lineage(store, "datasetField:col:a:b:y", "DOWNSTREAM")
    assert {(n.namespace, n.name, n.field) for n in graph.nodes} == {(*B, "y"), (*C, "y")}
    # Namespaces with colons resolve as they always did, and unknown ids find nothing.
    assert resolve(store, "dataset:col:c") == dataset_id(*C)
    assert resolve(store, "dataset:col:nothing:here") == "dataset:col:nothing:here"
    assert lineage(store, "dataset:col:nothing:here").nodes == []
