"""The gate's decision log, in a SQLite file of its own beside the store's
(``headwater.decisions.db`` next to ``headwater.db``).

The gate commits each decision before it answers. In the catalog's file that commit queued for
the one writer lock behind whole ingestion transactions (~1.3 s for a batch of 100 events), so
a gate call waited for ingestion. SQLite locks per file: the log's own file has its own writer,
which only the gate uses. Nothing joins the log with the catalog (decisions name jobs and runs
by id), so splitting the file costs no query.

Decisions are committed with ``synchronous=NORMAL``: an fsync per decision costs 3–25 ms on
this kind of disk, more than the gate's latency budget. A committed decision survives the
process being killed at once; its connections' ``Checkpointer`` flushes the log once a second,
which bounds what a power loss can take to the last second.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import orjson

from headwater.catalog.embedded.connection import Connections
from headwater.catalog.model import DecisionRecord

SYNC_SECONDS = 1.0


def log_path(store_path: Path) -> Path:
    """``headwater.db`` → ``headwater.decisions.db``."""
    return store_path.with_name(f"{store_path.stem}.decisions{store_path.suffix or '.db'}")


class DecisionLog:
    """The log file's writer and readers (``Connections`` over the other file), opened on first
    use: the file is created by a migration step, which runs after the store is opened."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conns: Connections | None = None

    @property
    def conns(self) -> Connections:
        with self._lock:
            if self._conns is None:
                self._conns = Connections(self.path, checkpoint_every=SYNC_SECONDS,
                                          flush_log=True)
            return self._conns

    def close(self) -> None:
        with self._lock:
            if self._conns is not None:
                self._conns.close()
            self._conns = None


def _record(r: sqlite3.Row) -> DecisionRecord:
    return DecisionRecord(r["id"], r["time"], r["principal"], r["job_id"], r["run_id"],
                          r["decision"], orjson.loads(r["reasons"]), orjson.loads(r["masks"]),
                          r["policy_revision"], r["engine"], r["input_digest"])


class Decisions(Connections):
    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        self._decision_log = DecisionLog(log_path(self.path))

    def log_decision(self, d: DecisionRecord) -> None:
        log_file = self._decision_log
        log_file.conns._edit(
            ("INSERT INTO decisions(id, time, principal, job_id, run_id, decision, reasons,"
             " masks, policy_revision, engine, input_digest) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
             (d.id, d.time, d.principal, d.job_id, d.run_id, d.decision, orjson.dumps(d.reasons),
              orjson.dumps(d.masks), d.policy_revision, d.engine, d.input_digest)),
            fsync=False)

    def decisions(self, first: int = 50, run_id: str | None = None,
                  job_id: str | None = None, decision: str | None = None,
                  principal: str | None = None) -> list[DecisionRecord]:
        rows = self._decision_log.conns._rows(
            "SELECT * FROM decisions WHERE (:run IS NULL OR run_id = :run)"
            " AND (:job IS NULL OR job_id = :job) AND (:decision IS NULL OR decision = :decision)"
            " AND (:principal IS NULL OR principal = :principal)"
            " ORDER BY time DESC, id LIMIT :first",
            {"run": run_id, "job": job_id, "decision": decision, "principal": principal,
             "first": first})  # type: ignore[arg-type]
        return [_record(r) for r in rows]

    def latest_decisions(self, run_ids: Sequence[str]) -> dict[str, DecisionRecord]:
        # One query for a page of runs (decisions_run index), not one per run.
        return {r["run_id"]: _record(r) for r in self._decision_log.conns._in(
            "SELECT * FROM (SELECT d.*, row_number() OVER (PARTITION BY run_id"
            " ORDER BY time DESC, id) AS n FROM decisions d WHERE run_id IN ({ids}))"
            " WHERE n = 1", run_ids)}

    def close(self) -> None:
        self._decision_log.close()
        super().close()
