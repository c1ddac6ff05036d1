"""Lineage traversal on both backends over tests/lineage_graph.py: exact nodes, depths, edges."""

from __future__ import annotations

import pytest

from headwater.catalog import Graph, Store
from headwater.lineage import LineageError, column_lineage, lineage
from tests.lineage_graph import NS, d, f, j, load


@pytest.fixture
def graph_store(store: Store) -> Store:
    load(store)
    return store


def nodes(g: Graph) -> dict[str, int]:
    return {n.id: n.depth for n in g.nodes}


def edges(g: Graph) -> set[tuple[str, str]]:
    return {(e.source, e.target) for e in g.edges}


def test_downstream_fan_out_and_cycle_at_depth_2(graph_store: Store) -> None:
    g = lineage(graph_store, d("C"), "DOWNSTREAM", 2)
    assert nodes(g) == {d("C"): 0, j("J2"): 1, j("J3"): 1, j("J4"): 1, j("J5"): 1,
                        d("D"): 2, d("E"): 2, d("F"): 2, d("G"): 2}
    assert edges(g) == {(d("C"), j("J2")), (d("C"), j("J3")), (d("C"), j("J4")),
                        (d("C"), j("J5")), (j("J2"), d("D")), (d("D"), j("J2")),
                        (j("J3"), d("E")), (j("J4"), d("F")), (j("J5"), d("G"))}
    assert g.truncated  # F and G feed J6 at depth 3


def test_downstream_diamond_joins_once(graph_store: Store) -> None:
    g = lineage(graph_store, d("C"), "DOWNSTREAM", 4)
    assert nodes(g)[j("J6")] == 3 and nodes(g)[d("H")] == 4
    assert len(g.nodes) == 11
    assert {(d("F"), j("J6")), (d("G"), j("J6")), (j("J6"), d("H"))} <= edges(g)
    assert not g.truncated  # everything reachable is within depth 4, the cycle included


def test_upstream_fan_in(graph_store: Store) -> None:
    g = lineage(graph_store, d("H"), "UPSTREAM", 10)
    assert nodes(g) == {d("H"): 0, j("J6"): 1, d("F"): 2, d("G"): 2, j("J4"): 3, j("J5"): 3,
                        d("C"): 4, j("J1"): 5, d("A"): 6, d("B"): 6}
    assert edges(g) == {(j("J6"), d("H")), (d("F"), j("J6")), (d("G"), j("J6")),
                        (j("J4"), d("F")), (j("J5"), d("G")), (d("C"), j("J4")),
                        (d("C"), j("J5")), (j("J1"), d("C")), (d("A"), j("J1")),
                        (d("B"), j("J1"))}
    assert not g.truncated


def test_upstream_through_the_cycle(graph_store: Store) -> None:
    g = lineage(graph_store, d("D"), "UPSTREAM", 2)
    assert nodes(g) == {d("D"): 0, j("J2"): 1, d("C"): 2}
    assert edges(g) == {(j("J2"), d("D")), (d("D"), j("J2")), (d("C"), j("J2"))}
    assert g.truncated  # J1 produces C


def test_both_directions_around_a_job(graph_store: Store) -> None:
    g = lineage(graph_store, j("J4"), "BOTH", 1)
    assert nodes(g) == {j("J4"): 0, d("C"): 1, d("F"): 1}
    assert edges(g) == {(d("C"), j("J4")), (j("J4"), d("F"))}
    assert g.truncated
    g = lineage(graph_store, j("J4"), "BOTH", 0)
    assert nodes(g) == {j("J4"): 0} and g.truncated


def test_node_limit_keeps_the_nearest_and_says_truncated(graph_store: Store) -> None:
    g = lineage(graph_store, d("C"), "DOWNSTREAM", 10, max_nodes=5)
    assert len(g.nodes) == 5 and g.truncated
    assert nodes(g)[d("C")] == 0 and all(depth <= 1 for depth in nodes(g).values())


def test_node_types_and_names(graph_store: Store) -> None:
    g = lineage(graph_store, j("J1"), "UPSTREAM", 1)
    assert {(n.type, n.namespace, n.name) for n in g.nodes} == {
        ("JOB", "etl", "J1"), ("DATASET", NS, "A"), ("DATASET", NS, "B")}


def test_column_lineage_three_hops_with_transformations(graph_store: Store) -> None:
    g = column_lineage(graph_store, NS, "H", "contact", "UPSTREAM", 10)
    assert nodes(g) == {f("H", "contact"): 0, f("F", "email_hash"): 1, f("C", "email"): 2,
                        f("A", "email"): 3}
    assert {(e.source, e.target, e.transformation) for e in g.edges} == {
        (f("F", "email_hash"), f("H", "contact"), "DIRECT/IDENTITY"),
        (f("C", "email"), f("F", "email_hash"), "DIRECT/TRANSFORMATION"),
        (f("A", "email"), f("C", "email"), "DIRECT/IDENTITY"),
    }
    assert not g.truncated
    assert {(n.type, n.name, n.field) for n in g.nodes if n.depth == 3} == {
        ("FIELD", "A", "email")}
    short = column_lineage(graph_store, NS, "H", "contact", "UPSTREAM", 2)
    assert set(nodes(short)) == {f("H", "contact"), f("F", "email_hash"), f("C", "email")}
    assert short.truncated


def test_column_lineage_downstream_and_joins(graph_store: Store) -> None:
    g = column_lineage(graph_store, NS, "B", "id", "DOWNSTREAM", 5)
    assert nodes(g) == {f("B", "id"): 0, f("C", "customer_id"): 1}
    assert [e.transformation for e in g.edges] == ["INDIRECT/JOIN"]
    g = lineage(graph_store, f("A", "email"), "DOWNSTREAM", 1)
    assert nodes(g) == {f("A", "email"): 0, f("C", "email"): 1} and g.truncated


def test_unknown_nodes_and_bad_arguments(graph_store: Store) -> None:
    assert lineage(graph_store, d("nope"), "BOTH", 3).nodes == []
    assert column_lineage(graph_store, NS, "A", "nope").nodes == []
    with pytest.raises(LineageError, match="depth must be between 0 and 20"):
        lineage(graph_store, d("C"), "BOTH", 21)
    with pytest.raises(LineageError, match="not a node id"):
        lineage(graph_store, "C", "BOTH", 1)


def test_dataset_pages_and_filters(graph_store: Store) -> None:
    ids, total = graph_store.datasets_page(NS, None, None, 3, None)
    assert ids == [d("A"), d("B"), d("C")] and total == 8
    ids, _ = graph_store.datasets_page(NS, None, None, 3, d("C"))
    assert ids == [d("D"), d("E"), d("F")]
    assert graph_store.datasets_page(None, "h", None, 10, None) == ([d("H")], 1)
    assert graph_store.datasets_page("other", None, None, 10, None) == ([], 0)
