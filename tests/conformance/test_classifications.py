"""Classifications follow column lineage, stop at masking/declassifying derivations, and stay
right whichever order lineage and classifications arrive in. Both backends."""

from __future__ import annotations

from headwater.catalog import Store
from headwater.catalog.ids import dataset_id, field_id
from headwater.ingestion.normalize import normalize
from tests.factories import dataset, run_event, schema

NS = "postgres://crm:5432"
CHAIN = [("S", "email"), ("T1", "email"), ("T2", "email"), ("T3", "mail"), ("T4", "mail_hash"),
         ("T5", "x")]


def chain_events(tag_source: bool = False) -> list[dict]:
    """S.email -> T1.email -> T2.email -> T3.mail -(masking)-> T4.mail_hash -> T5.x"""
    events = []
    for i in range(1, len(CHAIN)):
        (src, sf), (dst, df) = CHAIN[i - 1], CHAIN[i]
        masking = dst == "T4"
        source_facets = {"tags": {"tags": [{"key": "classification", "value": "pii.email",
                                            "field": "email"}]}} if tag_source and i == 1 else {}
        events.append(run_event("COMPLETE", job=("crm", f"make_{dst}"),
                                inputs=[dataset(NS, src, s=schema(sf), t=source_facets)],
                                outputs=[dataset(NS, dst, s=schema(df), c={"columnLineage": {
                                    "fields": {df: {"inputFields": [{
                                        "namespace": NS, "name": src, "field": sf,
                                        "transformations": [{"type": "DIRECT",
                                                             "subtype": "TRANSFORMATION",
                                                             "masking": masking}]}]}}}})]))
    return events


def inherited(store: Store) -> dict[str, list[str]]:
    ids = [field_id(NS, d, f) for d, f in CHAIN]
    found = store.inherited_classifications(ids)
    return {d: found.get(field_id(NS, d, f), []) for d, f in CHAIN}


def test_three_hops_then_stopped_by_masking(store: Store) -> None:
    store.write_events([normalize(e) for e in chain_events()])
    store.classify_field(dataset_id(NS, "S"), "email", ["pii.email"])
    assert inherited(store) == {"S": [], "T1": ["pii.email"], "T2": ["pii.email"],
                                "T3": ["pii.email"], "T4": [], "T5": []}


def test_reclassifying_the_source_updates_every_descendant(store: Store) -> None:
    store.write_events([normalize(e) for e in chain_events()])
    store.classify_field(dataset_id(NS, "S"), "email", ["pii.email"])
    store.classify_field(dataset_id(NS, "S"), "email", ["pii.phone", "sensitive.contact"])
    assert inherited(store)["T3"] == ["pii.phone", "sensitive.contact"]
    store.classify_field(dataset_id(NS, "S"), "email", [])
    assert inherited(store)["T3"] == []


def test_same_state_whichever_arrives_first(store: Store) -> None:
    # Classification first (from a tags facet on the very first event), lineage later...
    events = [normalize(e) for e in chain_events(tag_source=True)]
    store.write_events(events[:1])
    store.write_events(events[1:])
    first = inherited(store)
    assert first["T3"] == ["pii.email"] and first["T4"] == []
    # ... equals lineage first, classification added by a steward afterwards.
    store.classify_field(dataset_id(NS, "S"), "email", ["pii.email"])
    assert inherited(store) == first


def test_a_steward_declassified_derivation_stops_inheritance(store: Store) -> None:
    store.write_events([normalize(e) for e in chain_events()])
    store.classify_field(dataset_id(NS, "S"), "email", ["pii.email"])
    store.declassify_edge(field_id(NS, "T1", "email"), field_id(NS, "T2", "email"))
    assert inherited(store) == {"S": [], "T1": ["pii.email"], "T2": [], "T3": [], "T4": [],
                                "T5": []}
    store.declassify_edge(field_id(NS, "T1", "email"), field_id(NS, "T2", "email"), on=False)
    assert inherited(store)["T3"] == ["pii.email"]


def test_tags_retention_and_steward_classifications_are_read_back(store: Store) -> None:
    store.write_events([normalize(e) for e in chain_events()])
    s = dataset_id(NS, "S")
    store.classify_field(s, "email", ["pii.email"])
    store.tag_dataset(s, ["purpose:marketing", "legal-hold:tax"])
    store.tag_dataset(s, ["legal-hold:tax"], add=False)
    store.set_retention(s, 30)
    ds = store.dataset(NS, "S")
    assert ds is not None and ds.tags == ["purpose:marketing"] and ds.retention_days == 30
    assert store.fields([s])[s][0].classifications == ["pii.email"]
    store.tag_dataset(dataset_id(NS, "T1"), ["retention:90d"])
    t1 = store.dataset(NS, "T1")
    assert t1 is not None and t1.retention_days == 90


def test_datasets_filtered_by_classification_include_inherited(store: Store) -> None:
    store.write_events([normalize(e) for e in chain_events()])
    store.classify_field(dataset_id(NS, "S"), "email", ["pii.email"])
    names = ["S", "T1", "T2", "T3"]
    for wanted in ("pii", "pii.email"):
        ids, total = store.datasets_page(None, None, wanted, 10, None)
        assert ids == [dataset_id(NS, n) for n in names] and total == 4
    assert store.datasets_page(None, None, "pii.phone", 10, None) == ([], 0)
    assert store.datasets_page(None, None, "pi", 10, None) == ([], 0)
