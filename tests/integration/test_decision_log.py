"""The gate's decision log on the embedded store has a file of its own: a decision is committed
(and can be read back) while an ingestion transaction holds the catalog's writer, instead of
queueing behind it (docs/design.md, "The decision log")."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from headwater.catalog import open_store
from headwater.catalog.model import DecisionRecord

HOLD_S = 3.0


def test_a_decision_is_logged_while_a_long_ingestion_transaction_holds_the_writer(
        tmp_path: Path) -> None:
    store = open_store("embedded", path=tmp_path / "headwater.db")
    holding, release = threading.Event(), threading.Event()

    def long_ingestion() -> None:  # as a batch of events does: one transaction, held a while
        with store._transaction() as db:  # type: ignore[attr-defined]
            db.execute("INSERT INTO namespaces(name, created_at) VALUES ('held', 'now')")
            holding.set()
            release.wait(HOLD_S)

    writer = threading.Thread(target=long_ingestion)
    writer.start()
    try:
        assert holding.wait(5)
        started = time.perf_counter()
        store.log_decision(DecisionRecord("d1", "2026-01-01T00:00:00+00:00", "ci", "job:x",
                                          "r1", "deny", ["pii"], [], "rev", "embedded", "x"))
        logged = [d.id for d in store.decisions(run_id="r1")]
        took = time.perf_counter() - started
    finally:
        release.set()
        writer.join()
        store.close()
    assert logged == ["d1"]
    assert took < 0.5, f"the decision waited {took:.2f} s for the ingestion transaction"


def test_decisions_survive_reopening_the_store(tmp_path: Path) -> None:
    path = tmp_path / "headwater.db"
    store = open_store("embedded", path=path)
    store.log_decision(DecisionRecord("d1", "2026-01-01T00:00:00+00:00", "ci", None, "r1",
                                      "allow", [], [], "rev", "embedded", "x"))
    store.close()
    store = open_store("embedded", path=path)
    try:
        assert [d.id for d in store.decisions()] == ["d1"]
    finally:
        store.close()
