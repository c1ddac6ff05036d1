"""Which jobs and datasets a batch writes in full, and which digests it keeps (catalog.facts)."""

from __future__ import annotations

from headwater.catalog.facts import NO_FACTS, plan
from headwater.catalog.model import ColumnEdge, DatasetWrite, EventWrite, JobWrite


def event(t: str, job: str = "a", facts: str = "J1", ds: str = "D1",
          edges: tuple[str, ...] = ()) -> EventWrite:
    out = DatasetWrite("ns", "t", "dataset:ns:t", "output", facts=ds)
    return EventWrite(f"{job}{t}{facts}{ds}", "run", t, b"{}",
                      job=JobWrite("ns", job, f"job:ns:{job}", facts=facts), outputs=[out],
                      column_edges=[ColumnEdge(f"s{k}", "t", "s", out.id, k, "t", "DIRECT", "")
                                    for k in edges])


def test_a_node_that_says_what_it_holds_is_only_touched() -> None:
    p = plan([event("2"), event("3")], {"job:ns:a": ("J1", "1"), "dataset:ns:t": ("D1", "1")})
    assert p.touched == {"job:ns:a": "3", "dataset:ns:t": "3"} and p.record == {}


def test_newest_facts_are_kept_late_or_mixed_ones_clear_the_digest() -> None:
    stored = {"job:ns:a": ("J1", "5"), "dataset:ns:t": ("D1", "5")}
    assert plan([event("6", facts="J2")], stored).record["job:ns:a"] == "J2"
    assert plan([event("5", facts="J2")], stored).record["job:ns:a"] == "J2"  # a tie wins
    assert plan([event("4", facts="J2")], stored).record["job:ns:a"] is None  # late
    assert plan([event("6", facts="J2"), event("7", facts="J3")],
                stored).record["job:ns:a"] is None


def test_saying_nothing_of_a_dataset_keeps_its_promise() -> None:
    stored = {"job:ns:a": ("J1", "5"), "dataset:ns:t": ("D1", "5")}
    assert "dataset:ns:t" in plan([event("6", ds=NO_FACTS)], stored).touched
    assert plan([event("6", ds=NO_FACTS)], stored, enabled=False).record["dataset:ns:t"] == "D1"


def test_a_derivation_another_job_writes_is_written_by_its_unchanged_job_too() -> None:
    stored = {"job:ns:a": ("J1", "1"), "job:ns:b": ("K1", "1"), "dataset:ns:t": ("D1", "1")}
    p = plan([event("3", edges=("x",)), event("2", job="b", facts="K2", edges=("x",))], stored)
    assert "job:ns:a" not in p.touched and p.edges[("sx", "t", "DIRECT", "")] == "job:ns:a"
    assert p.record["job:ns:b"] is None  # its derivation went to a later event's job
    assert p.owners({("sx", "t", "DIRECT", ""): "job:ns:c"}) == {"job:ns:c"}
