"""Catalog search on both stores: ranking tiers, paging, filters, what matched, and the index
kept in step with steward edits in the same transaction."""

from __future__ import annotations

from typing import Any

import pytest

from headwater.catalog import Store
from headwater.catalog.errors import Invalid
from headwater.catalog.search import MAX_QUERY, search
from headwater.ingestion.normalize import normalize

P = "https://example.com/producer"


def event(job: str, inputs: list[dict[str, Any]], outputs: list[dict[str, Any]], n: int = 1,
          job_facets: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"eventType": "COMPLETE", "eventTime": f"2026-03-01T00:00:{n:02d}Z", "producer": P,
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            "run": {"runId": f"00000000-0000-4000-8000-{n:012d}"},
            "job": {"namespace": "dbt", "name": job, "facets": job_facets or {}},
            "inputs": inputs, "outputs": outputs}


def ds(name: str, fields: list[str] = (), description: str | None = None,  # type: ignore[assignment]
       ns: str = "postgres://db:5432", tags: list[str] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    facets: dict[str, Any] = {}
    if fields:
        facets["schema"] = {"_producer": P, "_schemaURL": P + "/s",
                            "fields": [{"name": f, "type": "text"} for f in fields]}
    if description:
        facets["documentation"] = {"_producer": P, "_schemaURL": P + "/d",
                                   "description": description}
    if tags:
        facets["tags"] = {"_producer": P, "_schemaURL": P + "/t",
                          "tags": [{"key": t, "value": "true", "source": "test"} for t in tags]}
    return {"namespace": ns, "name": name, "facets": facets}


@pytest.fixture
def catalog(store: Store) -> Store:
    store.write_events([normalize(e) for e in [
        event("load_orders", [ds("raw.orders", ["order_id", "email"],
                                 "Every order, with the customer's contact address")],
              [ds("orders", ["order_id", "amount"]), ds("orders_daily", ["day", "total"]),
               ds("shop.orders", ["order_id"])]),
        event("refresh_people", [ds("people", ["person_id", "email_address"],
                                    "Staff directory", ns="file")],
              [ds("audit.log", ["entry"], "Who ordered what")], n=2),
    ]])
    return store


def names(page: Any) -> list[tuple[str, str, str | None]]:
    return [(h.type, h.name, h.field) for h in page.hits]


def test_tiers_rank_exact_then_prefix_then_word_then_field_then_description(catalog: Store
                                                                             ) -> None:
    page = search(catalog, "orders")
    ranked = [(h.type, h.name, h.field, h.matched, h.score) for h in page.hits]
    assert ranked[0] == ("DATASET", "orders", None, "name", 6.0)
    assert ranked[1] == ("DATASET", "orders_daily", None, "name", 5.0)
    assert sorted(ranked[2:]) == [("DATASET", "raw.orders", None, "name", 4.0),
                                  ("DATASET", "shop.orders", None, "name", 4.0),
                                  ("JOB", "load_orders", None, "name", 4.0)]
    assert page.total == 5
    page = search(catalog, "order")
    assert [h.score for h in page.hits] == sorted((h.score for h in page.hits), reverse=True)
    tiers = {(h.type, h.name, h.field): (h.matched, h.score) for h in page.hits}
    assert tiers[("DATASET", "orders", None)] == ("name", 5.0)
    assert tiers[("FIELD", "raw.orders", "order_id")] == ("field", 3.0)
    assert tiers[("DATASET", "raw.orders", None)] == ("name", 4.0)
    assert tiers[("DATASET", "audit.log", None)] == ("description", 1.0)  # "ordered"


def test_fields_and_descriptions_are_found_with_the_text_marked(catalog: Store) -> None:
    page = search(catalog, "email")
    assert sorted(names(page)) == [("FIELD", "people", "email_address"),
                                   ("FIELD", "raw.orders", "email")]
    hit = next(h for h in page.hits if h.field == "email")
    assert (hit.id, hit.matched, hit.highlight) == (
        "datasetField:postgres://db:5432:raw.orders:email", "field", "<mark>email</mark>")
    hit = search(catalog, "customer").hits[0]
    assert (hit.name, hit.matched) == ("raw.orders", "description")
    assert hit.highlight == "Every order, with the <mark>customer</mark>&#x27;s contact address"


def test_query_syntax_is_plain_text_and_bounded(catalog: Store) -> None:
    for text in ['orders" OR "x', "orders*", "NOT orders", "{name}: orders", "orders AND"]:
        assert search(catalog, text).total >= 0  # no syntax error reaches the index
    assert search(catalog, "ord").total >= 5  # the last word is a prefix
    assert search(catalog, "raw ord").hits[0].name == "raw.orders"
    with pytest.raises(Invalid, match="at most"):
        search(catalog, "x" * (MAX_QUERY + 1))
    with pytest.raises(Invalid, match="no letters or digits"):
        search(catalog, "  ** ")
    with pytest.raises(Invalid, match="unknown search type"):
        search(catalog, "orders", types=["TABLE"])


def test_filters_by_type_and_namespace(catalog: Store) -> None:
    assert names(search(catalog, "orders", types=["JOB"])) == [("JOB", "load_orders", None)]
    assert {h.type for h in search(catalog, "order", types=["FIELD"]).hits} == {"FIELD"}
    assert names(search(catalog, "email", namespace="file")) == [
        ("FIELD", "people", "email_address")]
    assert search(catalog, "orders", namespace="postgres://db").total == 0  # exact namespace


def test_pages_walk_the_whole_ranking_once(catalog: Store) -> None:
    whole = search(catalog, "o", first=100)
    assert whole.total == len(whole.hits) > 4
    seen: list[Any] = []
    after = None
    while True:
        page = search(catalog, "o", first=2, after=after)
        if not page.hits:
            break
        seen += page.hits
        from headwater.catalog.search import encode_cursor
        after = encode_cursor(page.offset + len(page.hits) - 1)
    assert seen == whole.hits


def test_index_follows_steward_edits(catalog: Store) -> None:
    orders = "dataset:postgres://db:5432:orders"
    catalog.tag_dataset(orders, ["finance-gold"])
    hit = search(catalog, "gold").hits[0]
    assert (hit.name, hit.matched, hit.highlight) == ("orders", "tag", "finance-<mark>gold</mark>")
    catalog.tag_dataset(orders, ["finance-gold"], add=False)
    assert search(catalog, "gold").total == 0
    catalog.classify_field(orders, "amount", ["sensitive.revenue"])
    page = search(catalog, "revenue")
    assert sorted((h.type, h.field, h.matched) for h in page.hits) == [
        ("DATASET", None, "classification"), ("FIELD", "amount", "classification")]
    catalog.classify_field(orders, "amount", [])
    assert search(catalog, "revenue").total == 0


def test_index_follows_ingestion(catalog: Store) -> None:
    catalog.write_events([normalize(event(
        "load_orders", [], [ds("orders", ["order_id", "amount", "coupon_code"],
                               "Orders after returns")], n=3))])
    assert ("FIELD", "orders", "coupon_code") in names(search(catalog, "coupon"))
    assert search(catalog, "returns").hits[0].matched == "description"


def _another(store: Store, request: pytest.FixtureRequest) -> Store:
    """A second store over the same catalog (another connection, as another process has)."""
    from headwater.catalog import open_store

    path = getattr(store, "path", None)
    if path is not None:
        return open_store("embedded", path=path)
    env = request.getfixturevalue("neo4j_service")
    return open_store("neo4j", uri=env["HEADWATER_NEO4J_URI"],
                      user=env.get("HEADWATER_NEO4J_USER"),
                      password=env.get("HEADWATER_NEO4J_PASSWORD"))


@pytest.mark.parametrize("editor", ["this store", "another store"])
def test_an_event_repeated_after_a_steward_edit_is_indexed_again(
        catalog: Store, request: pytest.FixtureRequest, editor: str) -> None:
    """The write path skips nodes whose events say what they said before; a steward's edit
    in between (through this store or another over the same catalog) must not be skipped
    over: the repeated event puts the tag back, and search finds it again."""
    gold = [ds("orders", ["order_id", "amount"], tags=["finance-gold"])]
    catalog.write_events([normalize(event("load_orders", [], gold, n=3))])
    assert names(search(catalog, "gold")) == [("DATASET", "orders", None)]
    steward = catalog if editor == "this store" else _another(catalog, request)
    try:
        tag = next(t for t in catalog.dataset("postgres://db:5432", "orders").tags  # type: ignore[union-attr]
                   if "gold" in t)
        steward.tag_dataset("dataset:postgres://db:5432:orders", [tag], add=False)
    finally:
        if steward is not catalog:
            steward.close()
    assert search(catalog, "gold").total == 0
    catalog.write_events([normalize(event("load_orders", [], gold, n=4))])
    assert names(search(catalog, "gold")) == [("DATASET", "orders", None)]
