"""The embedded writer's work per event does not grow with the catalog: writing the next
events into a store of 8,000 jobs takes about the SQLite steps it took at 1,000 (a lookup that
scanned every column edge per batch made ingestion ~10x slower by 20,000 jobs)."""

from __future__ import annotations

from pathlib import Path

from bench.synthetic import events
from headwater.catalog import open_store
from headwater.catalog.embedded import EmbeddedStore
from headwater.ingestion.normalize import normalize

BATCH = 200


def steps(store: EmbeddedStore, batch: list) -> int:  # type: ignore[type-arg]
    """SQLite virtual-machine steps (in thousands) the write of ``batch`` takes: a count that
    does not depend on the machine's load."""
    count = 0

    def step() -> int:
        nonlocal count
        count += 1
        return 0

    store._writer.set_progress_handler(step, 1000)
    try:
        store.write_events(batch)
    finally:
        store._writer.set_progress_handler(None, 0)
    return count


def test_writing_an_event_costs_the_same_in_a_bigger_catalog(tmp_path: Path) -> None:
    store = open_store("embedded", path=tmp_path / "headwater.db")
    assert isinstance(store, EmbeddedStore)
    stream = [normalize(e) for e in events(datasets=20_000, jobs=9_000)]
    try:
        for i in range(0, 1000, 500):
            store.write_events(stream[i:i + 500])
        small = steps(store, stream[1000:1000 + BATCH])
        for i in range(1000 + BATCH, 8000, 500):
            store.write_events(stream[i:min(i + 500, 8000)])
        big = steps(store, stream[8000:8000 + BATCH])
    finally:
        store.close()
    assert big < 1.6 * small, (small, big)
