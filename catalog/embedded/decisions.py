"""The gate's decision log."""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from headwater.catalog.embedded.connection import Connections
from headwater.catalog.model import DecisionRecord


class Decisions(Connections):
    def log_decision(self, d: DecisionRecord) -> None:
        self._edit(("INSERT INTO decisions(id, time, principal, job_id, run_id, decision, reasons,"
                    " masks, policy_revision, engine, input_digest) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (d.id, d.time, d.principal, d.job_id, d.run_id, d.decision,
                     orjson.dumps(d.reasons), orjson.dumps(d.masks), d.policy_revision, d.engine,
                     d.input_digest)), fsync=False)  # see docs/design.md, "The decision log"

    def decisions(self, first: int = 50, run_id: str | None = None,
                  job_id: str | None = None, decision: str | None = None,
                  principal: str | None = None) -> list[DecisionRecord]:
        rows = self._rows(
            "SELECT * FROM decisions WHERE (:run IS NULL OR run_id = :run)"
            " AND (:job IS NULL OR job_id = :job) AND (:decision IS NULL OR decision = :decision)"
            " AND (:principal IS NULL OR principal = :principal)"
            " ORDER BY time DESC, id LIMIT :first",
            {"run": run_id, "job": job_id, "decision": decision, "principal": principal,
             "first": first})  # type: ignore[arg-type]
        return [DecisionRecord(r["id"], r["time"], r["principal"], r["job_id"], r["run_id"],
                               r["decision"], orjson.loads(r["reasons"]), orjson.loads(r["masks"]),
                               r["policy_revision"], r["engine"], r["input_digest"]) for r in rows]

    def latest_decisions(self, run_ids: Sequence[str]) -> dict[str, DecisionRecord]:
        # One query for a page of runs (decisions_run index), not one per run.
        out: dict[str, DecisionRecord] = {}
        for r in self._in(
                "SELECT * FROM (SELECT d.*, row_number() OVER (PARTITION BY run_id"
                " ORDER BY time DESC, id) AS n FROM decisions d WHERE run_id IN ({ids}))"
                " WHERE n = 1", run_ids):
            out[r["run_id"]] = DecisionRecord(
                r["id"], r["time"], r["principal"], r["job_id"], r["run_id"], r["decision"],
                orjson.loads(r["reasons"]), orjson.loads(r["masks"]), r["policy_revision"],
                r["engine"], r["input_digest"])
        return out
