"""The cost estimate of GraphQL queries (api/graphql/cost.py): every list of objects in the
schema has a bound, nested lists multiply, and the queries Headwater's own tools send fit the
budget while the issue-16 attack does not."""

from __future__ import annotations

from graphql import GraphQLList, GraphQLNonNull, GraphQLObjectType, get_named_type, parse

from headwater.api.graphql import schema
from headwater.api.graphql.cost import CAPS, Limits, estimate
from headwater.commands.reading import IMPACT_QUERY, WHOLE_PAGE

BUDGET = Limits().max_cost
LINEAGE_CLI = """query($id: ID!, $dir: Direction!, $depth: Int!) {
  lineage(nodeId: $id, direction: $dir, depth: $depth) {
    nodes { id type namespace name field depth } edges { source target transformation }
    truncated } }"""
README_FIELDS = """{ dataset(namespace: "postgres://shop:5432", name: "shop.public.orders") {
  fields { name classifications inheritedClassifications } } }"""
ATTACK = "{ dataset(namespace: \"a\", name: \"b\") { consumers { inputs { consumers { inputs { " \
         "consumers { id } } } } } } }"


def cost(query: str, **variables: object) -> int:
    return estimate(schema._schema, parse(query), None, variables).cost


def test_every_list_of_objects_is_bounded() -> None:
    unbounded = []
    for type_ in schema._schema.type_map.values():
        if not isinstance(type_, GraphQLObjectType) or type_.name.startswith("__"):
            continue
        for name, field in type_.fields.items():
            t = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
            if not isinstance(t, GraphQLList) or not isinstance(get_named_type(t),
                                                                GraphQLObjectType):
                continue
            paged = type_.name.endswith("Connection") and name == "edges"
            if "first" not in field.args and (type_.name, name) not in CAPS and not paged:
                unbounded.append(f"{type_.name}.{name}")
    assert unbounded == []


def test_nested_lists_multiply_and_the_attack_is_over_budget() -> None:
    assert cost(ATTACK) == 1 + 100 + 100**2 + 100**3 + 100**4 + 100**5
    assert cost(ATTACK) > BUDGET
    over_pages = ATTACK.replace('dataset(namespace: "a", name: "b")',
                                "datasets(first: 500) { edges { node").replace("} } }", "} } } } }", 1)
    assert cost(over_pages) > 500 * 100**5


def test_first_arguments_variables_and_fragments_count() -> None:
    narrow = ('{ dataset(namespace: "a", name: "b") { consumers(first: 10) { inputs(first: 5) '
              "{ consumers(first: 10) { id } } } } }")
    assert cost(narrow) == 1 + 10 + 10 * 5 + 10 * 5 * 10
    with_variable = ("query($n: Int!) { datasets(first: $n) { edges { node { fields { name } } } "
                     "} }")
    assert cost(with_variable, n=3) == 1 + 3 * (1 + 1 + 1000)
    fragment = ("query { datasets(first: 2) { edges { node { ...D } } } } "
                "fragment D on Dataset { consumers(first: 7) { id } }")
    assert cost(fragment) == 1 + 2 * (1 + 1 + 7)
    # `first` above its maximum counts as the maximum (and the resolver refuses it).
    assert cost('{ dataset(namespace: "a", name: "b") { consumers(first: 5000) { id } } }') \
        == 1 + 1000


def test_the_tools_queries_fit_the_budget() -> None:
    # The walk, the report, its totals and four pages: the CLI's default page, and the pages
    # it fetches everything in (--json, --limit 0).
    assert cost(IMPACT_QUERY, change={}, first=50, offset=0) == 20_000 + 1 + 1 + 4 * 50
    assert cost(IMPACT_QUERY, change={}, first=WHOLE_PAGE, offset=0) \
        == 20_000 + 2 + 4 * WHOLE_PAGE <= BUDGET
    assert cost(LINEAGE_CLI, id="x", dir="BOTH", depth=5) == 2_000 + 1 + 2_000 + 10_000
    assert cost(README_FIELDS) == 1 + 1000
    assert cost("{ namespaces }") == 0
    for query in (IMPACT_QUERY, LINEAGE_CLI, README_FIELDS):
        assert cost(query) <= BUDGET
    # An impact analysis is always heavy; the lineage the CLI asks for is not.
    assert cost(IMPACT_QUERY) >= Limits().heavy_cost > cost(LINEAGE_CLI)
