"""A dataset's schema history does not depend on the order events arrive in (issue 17): one
version per schema change in event-time order, each dated and attributed to the earliest event
that showed it; a late, older schema becomes a version in its place; a DROP stays in the
history. Both backends.

The property test is bounded (``HEADWATER_HYPOTHESIS_EXAMPLES``, default 20 here: each example
writes to a real store) and derandomized under CI (``CI`` set), like
tests/unit/test_ingestion_properties.py.
"""

from __future__ import annotations

import os
import uuid
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headwater.catalog import Store
from headwater.catalog.ids import dataset_id
from headwater.ingestion.normalize import normalize
from tests.factories import dataset, run_event, schema, ts

NS = "postgres://shop:5432"
EXAMPLES = int(os.environ.get("HEADWATER_HYPOTHESIS_EXAMPLES", "20"))
PROPERTY = settings(max_examples=EXAMPLES, deadline=timedelta(seconds=30), database=None,
                    derandomize=bool(os.environ.get("CI")),
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
SCHEMAS: dict[str, list[Any]] = {"A": ["id"], "B": ["id", "email"],
                                 "C": ["id", ("email", "varchar")], "DROP": []}


def event(name: str, shape: str, second: int, run: str) -> dict[str, Any]:
    facets: dict[str, Any] = (
        {"lifecycleStateChange": {"lifecycleStateChange": "DROP"}} if shape == "DROP"
        else schema(*SCHEMAS[shape]))
    return run_event("COMPLETE", run_id=run, time=ts(second),
                     outputs=[dataset(NS, name, f=facets)])


def history(store: Store, name: str) -> list[tuple[int, str, str | None, list[Any]]]:
    return [(v.version, v.created_at[:19], v.run_id,
             [f.name if f.type == "string" else (f.name, f.type) for f in v.fields])
            for v in reversed(store.schema_versions(dataset_id(NS, name), first=100))]


RUNS = [str(uuid.UUID(int=i)) for i in range(1, 10)]


def test_late_older_schema_and_drop_in_every_arrival_order(store: Store) -> None:
    # In event time: A(1) A(2) B(3) A(5) DROP(7); arriving newest first, one by one.
    shapes = [("A", 1), ("A", 2), ("B", 3), ("A", 5), ("DROP", 7)]
    for i, (shape, second) in reversed(list(enumerate(shapes))):
        store.write_events([normalize(event("orders", shape, second, RUNS[i]))])
    assert history(store, "orders") == [
        (1, "2026-03-01T10:00:01", RUNS[0], ["id"]),
        (2, "2026-03-01T10:00:03", RUNS[2], ["id", "email"]),
        (3, "2026-03-01T10:00:05", RUNS[3], ["id"]),
        (4, "2026-03-01T10:00:07", RUNS[4], [])]


@st.composite
def arrivals(draw: st.DrawFn) -> tuple[list[tuple[str, int, int]], list[int], list[int]]:
    """Events (shape, second, run index) with times that may tie; an arrival order; and cut
    points splitting it into batches."""
    n = draw(st.integers(2, 7))
    evs = [(draw(st.sampled_from(sorted(SCHEMAS))), draw(st.integers(0, 12)), i)
           for i in range(n)]
    order = draw(st.permutations(range(n)))
    cuts = sorted(draw(st.sets(st.integers(1, n - 1), max_size=n - 1)))
    return evs, list(order), cuts


@PROPERTY
@given(case=arrivals())
def test_any_arrival_order_gives_the_same_history(store: Store, case: Any) -> None:
    evs, order, cuts = case
    name_sorted, name_shuffled = f"t{uuid.uuid4().hex}", f"t{uuid.uuid4().hex}"
    by_time = sorted(evs, key=lambda e: (e[1], e[2]))
    for shape, second, run in by_time:
        store.write_events([normalize(event(name_sorted, shape, second, RUNS[run]))])
    shuffled = [evs[i] for i in order]
    for lo, hi in zip([0, *cuts], [*cuts, len(shuffled)], strict=True):
        store.write_events([normalize(event(name_shuffled, shape, second, RUNS[run]))
                            for shape, second, run in shuffled[lo:hi]])
    expected = history(store, name_sorted)
    assert history(store, name_shuffled) == expected
    # One version per change, in event-time order, never two equal neighbours.
    assert all(a[3] != b[3] for a, b in zip(expected, expected[1:], strict=False))
    assert [v[1] for v in expected] == sorted(v[1] for v in expected)
