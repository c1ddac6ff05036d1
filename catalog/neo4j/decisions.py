"""The gate's decision log."""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from headwater.catalog.model import DecisionRecord
from headwater.catalog.neo4j.connection import Connection


class Decisions(Connection):
    def log_decision(self, d: DecisionRecord) -> None:
        self._edit("CREATE (:Decision {id: $id, time: $time, principal: $principal, jobId: $job,"
                   " runId: $run, decision: $decision, reasons: $reasons, masks: $masks,"
                   " policyRevision: $revision, engine: $engine, inputDigest: $digest})",
                   id=d.id, time=d.time, principal=d.principal, job=d.job_id, run=d.run_id,
                   decision=d.decision, reasons=orjson.dumps(d.reasons).decode(),
                   masks=orjson.dumps(d.masks).decode(), revision=d.policy_revision,
                   engine=d.engine, digest=d.input_digest)

    def decisions(self, first: int = 50, run_id: str | None = None,
                  job_id: str | None = None, decision: str | None = None,
                  principal: str | None = None) -> list[DecisionRecord]:
        rows = self._read("MATCH (d:Decision) WHERE ($run IS NULL OR d.runId = $run)"
                          " AND ($job IS NULL OR d.jobId = $job)"
                          " AND ($decision IS NULL OR d.decision = $decision)"
                          " AND ($principal IS NULL OR d.principal = $principal)"
                          " RETURN d ORDER BY d.time DESC, d.id LIMIT $first",
                          run=run_id, job=job_id, decision=decision, principal=principal,
                          first=first)
        return [DecisionRecord(d["id"], d["time"], d["principal"], d.get("jobId"),
                               d.get("runId"), d["decision"], orjson.loads(d["reasons"]),
                               orjson.loads(d["masks"]), d["policyRevision"], d["engine"],
                               d["inputDigest"]) for d in (r["d"] for r in rows)]

    def latest_decisions(self, run_ids: Sequence[str]) -> dict[str, DecisionRecord]:
        # One query for a page of runs (decision_run index), not one per run.
        rows = self._read("UNWIND $ids AS id MATCH (d:Decision {runId: id})"
                          " WITH id, d ORDER BY d.time DESC, d.id"
                          " WITH id, head(collect(d)) AS d RETURN collect(d) AS all",
                          ids=list(run_ids))[0]["all"]
        return {d["runId"]: DecisionRecord(
            d["id"], d["time"], d["principal"], d.get("jobId"), d.get("runId"), d["decision"],
            orjson.loads(d["reasons"]), orjson.loads(d["masks"]), d["policyRevision"],
            d["engine"], d["inputDigest"]) for d in map(dict, rows)}
