"""The lineage explorer's layout: upstream on the left, downstream on the right, and rows
ordered so that edges do not cross when they need not."""

from __future__ import annotations

from headwater.api.ui.layout import layout


def _graph(edges: list[tuple[str, str]]) -> tuple[list[dict[str, object]],
                                                   list[dict[str, object]]]:
    names = sorted({n for e in edges for n in e})
    return ([{"id": n, "name": n} for n in names],
            [{"source": s, "target": t} for s, t in edges])


def _crossings(drawn) -> int:  # type: ignore[no-untyped-def]
    segments = [(s.x, s.y, t.x, t.y) for s, t, _ in drawn.edges]
    count = 0
    for i, (ax, ay, bx, by) in enumerate(segments):
        for cx, cy, dx, dy in segments[i + 1:]:
            if ax == cx and bx == dx and (ay - cy) * (by - dy) < 0:
                count += 1
    return count


def test_upstream_is_left_and_downstream_right_of_the_centre() -> None:
    nodes, edges = _graph([("src", "job1"), ("job1", "centre"), ("centre", "job2"),
                           ("job2", "out")])
    x = {n.id: n.x for n in layout("centre", nodes, edges).nodes}
    assert x["src"] < x["job1"] < x["centre"] < x["job2"] < x["out"]


def test_rows_are_ordered_to_avoid_crossings() -> None:
    # Alphabetical rows would cross every a->z / z->a pair; the barycenter pass untangles them.
    pairs = [("a_in", "m_job_z"), ("z_in", "m_job_a"), ("b_in", "m_job_y"), ("y_in", "m_job_b")]
    edges = [*pairs, *[(j, "root") for _, j in pairs]]
    nodes, edge_dicts = _graph([(s, t) for s, t in edges])
    drawn = layout("root", nodes, edge_dicts)
    assert _crossings(drawn) == 0


def test_six_hundred_nodes_lay_out_in_one_column_each_side() -> None:
    edges = [("hub", f"job{i:03d}") for i in range(200)]
    edges += [(f"job{i:03d}", f"out{i:03d}{s}") for i in range(200) for s in "ab"]
    nodes, edge_dicts = _graph(edges)
    drawn = layout("hub", nodes, edge_dicts)
    assert len(drawn.nodes) == 601
    assert drawn.columns == {0: 1, 1: 200, 2: 400}
    assert _crossings(drawn) == 0
