"""Catalog reads: datasets, jobs, runs, schema versions, quality results, dead letters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from headwater.catalog.attempts import Transition
from headwater.catalog.model import (
    DatasetRecord,
    DeadLetter,
    FieldRecord,
    JobRecord,
    QualityRecord,
    RunDataset,
    RunRecord,
    SchemaVersionRecord,
)
from headwater.catalog.neo4j.connection import Connection
from headwater.catalog.neo4j.cypher import CARRIES, CLASSES, INHERIT_DEPTH
from headwater.catalog.rules import LINEAGE, retention_days


class CatalogReads(Connection):
    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        rows = self._read("MATCH (d:DeadLetter) RETURN d ORDER BY d.receivedAt DESC LIMIT $n",
                          n=limit)
        return [DeadLetter(r["d"]["id"], r["d"]["receivedAt"], r["d"]["reason"],
                           orjson.loads(r["d"]["errors"]), bytes(r["d"]["payload"])) for r in rows]

    def _facets(self, node_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        # Many ids are read as one record holding one list (the driver pays per record).
        for owner, name, body in self._read(
                "UNWIND $ids AS id MATCH (f:Facet {owner: id})"
                " RETURN collect([f.owner, f.name, f.body]) AS all", ids=list(node_ids))[0]["all"]:
            out.setdefault(owner, {})[name] = orjson.loads(body)
        return out

    def dataset(self, namespace: str, name: str) -> DatasetRecord | None:
        rows = self._read("MATCH (d:Dataset {namespace: $ns, name: $name}) RETURN d.id AS id",
                          ns=namespace, name=name)
        return self.datasets_by_id([rows[0]["id"]])[0] if rows else None

    def node_names(self, kind: str, ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
        query = {
            "dataset": "UNWIND $ids AS id MATCH (n:Dataset {id: id})"
                       " RETURN collect([id, n.namespace, n.name]) AS all",
            "job": "UNWIND $ids AS id MATCH (n:Job {id: id})"
                   " RETURN collect([id, n.namespace, n.name]) AS all",
            # Fields in column lineage, as the embedded store keeps them.
            "field": "UNWIND $ids AS id MATCH (d:Dataset)-[:HAS_FIELD]->(f:Field {id: id})"
                     " WHERE (f)-[:DERIVES]-()"
                     " RETURN collect([id, d.namespace, d.name, f.name]) AS all"}[kind]
        return {r[0]: tuple(r[1:]) for r in self._read(query, ids=list(ids))[0]["all"]}

    def datasets_by_id(self, ids: Sequence[str], facets: bool = True
                       ) -> list[DatasetRecord | None]:
        # The lifecycle is the newest lifecycleStateChange facet (by event time), with its time.
        found = {d["id"]: d for d in self._read(
            "UNWIND $ids AS id MATCH (d:Dataset {id: id})"
            " OPTIONAL MATCH (f:Facet {owner: id, name: 'lifecycleStateChange'})"
            " RETURN collect(d {.*, lifecycleBody: f.body, lifecycleAt: f.eventTime})"
            " AS all", ids=list(ids))[0]["all"]}
        facet_map = self._facets(list(found)) if facets else {}
        return [
            None if (d := found.get(i)) is None else DatasetRecord(
                id=i, namespace=d["namespace"], name=d["name"], description=d.get("description"),
                tags=sorted(d.get("tags") or []), owners=sorted(d.get("owners") or []),
                retention_days=retention_days(d.get("retentionDays"), d.get("tags") or []),
                lifecycle_state=(orjson.loads(d["lifecycleBody"]).get("lifecycleStateChange")
                                 if d.get("lifecycleBody") else d.get("lifecycleState")),
                updated_at=d.get("updatedAt"), facets=facet_map.get(i, {}),
                lifecycle_at=d.get("lifecycleAt"))
            for i in ids
        ]

    def fields(self, dataset_ids: Sequence[str]) -> dict[str, list[FieldRecord]]:
        out: dict[str, list[FieldRecord]] = {i: [] for i in dataset_ids}
        rows = self._read(
            "UNWIND $ids AS id OPTIONAL MATCH (s:SchemaVersion {datasetId: id})"
            " WITH id, s ORDER BY s.version DESC WITH id, head(collect(s)) AS s"
            " OPTIONAL MATCH (:Dataset {id: id})-[:HAS_FIELD]->(f:Field)"
            f" RETURN id, s.fields AS fields, collect([f.name, {CLASSES},"
            "  EXISTS { (f)-[:DERIVES]-() }]) AS classes",
            ids=list(dataset_ids))
        for r in rows:
            classes = {name: sorted(set(cs)) for name, cs, _ in r["classes"] if name is not None}
            fields = [FieldRecord(n, t, d, classes.get(n, []))
                      for n, t, d in orjson.loads(r["fields"] or "[]")]
            # Columns only column lineage names: columns all the same, of unknown type.
            named = {f.name for f in fields}
            fields += [FieldRecord(n, None, None, classes.get(n, []), LINEAGE)
                       for n in sorted({n for n, _, derives in r["classes"]
                                        if derives and n is not None and n not in named})]
            out[r["id"]] = fields
        return out

    def schema_versions(self, dataset_id: str, first: int = 20) -> list[SchemaVersionRecord]:
        rows = self._read("MATCH (s:SchemaVersion {datasetId: $id}) RETURN s"
                          " ORDER BY s.version DESC LIMIT $n", id=dataset_id, n=first)
        return [SchemaVersionRecord(r["s"]["version"], r["s"]["createdAt"], r["s"].get("runId"),
                                    [FieldRecord(n, t, d)
                                     for n, t, d in orjson.loads(r["s"]["fields"])])
                for r in rows]

    def quality_results(self, dataset_id: str, first: int = 20, run_id: str | None = None,
                        field: str | None = None, failures_only: bool = False
                        ) -> list[QualityRecord]:
        rows = self._read("MATCH (q:Quality {datasetId: $id})"
                          " WHERE ($run IS NULL OR q.runId = $run)"
                          " AND ($field IS NULL OR q.field = $field)"
                          " AND (NOT $failed OR NOT q.success)"
                          " RETURN q ORDER BY q.observedAt DESC, q.assertion, q.field LIMIT $n",
                          id=dataset_id, n=first, run=run_id, field=field, failed=failures_only)
        return [QualityRecord(q["assertion"], q["success"], q.get("field"), q.get("runId"),
                              q["observedAt"], q["source"],
                              orjson.loads(q["value"]) if q.get("value") else None, q.get("name"))
                for q in (r["q"] for r in rows)]

    def alias_targets(self, dataset_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        return {r["id"]: (r["ns"], r["name"]) for r in self._read(
            "UNWIND $ids AS id MATCH (a:DatasetAlias {id: id})"
            " RETURN id, a.namespace AS ns, a.name AS name", ids=list(dataset_ids))}

    def latest_quality(self, dataset_ids: Sequence[str]) -> dict[str, list[QualityRecord]]:
        out: dict[str, list[QualityRecord]] = {i: [] for i in dataset_ids}
        for r in self._read(
            "UNWIND $ids AS id MATCH (q:Quality {datasetId: id})"
            " WITH id, q ORDER BY q.observedAt DESC"
            " WITH id, q.assertion AS a, coalesce(q.field, '') AS f, coalesce(q.name, '') AS n,"
            "  head(collect(q)) AS q"
            " RETURN id, q ORDER BY a, f, n", ids=list(dataset_ids)):
            q = r["q"]
            out[r["id"]].append(QualityRecord(q["assertion"], q["success"], q.get("field"),
                                              q.get("runId"), q["observedAt"], q["source"],
                                              orjson.loads(q["value"]) if q.get("value") else None,
                                              q.get("name")))
        return out

    def job(self, namespace: str, name: str) -> JobRecord | None:
        rows = self._read("MATCH (j:Job {namespace: $ns, name: $name}) RETURN j.id AS id",
                          ns=namespace, name=name)
        return self.jobs_by_id([rows[0]["id"]])[0] if rows else None

    def jobs_by_id(self, ids: Sequence[str], facets: bool = True) -> list[JobRecord | None]:
        found = {j["id"]: j for j in self._read(
            "UNWIND $ids AS id MATCH (j:Job {id: id}) RETURN collect(properties(j)) AS all",
            ids=list(ids))[0]["all"]}
        facet_map = self._facets(list(found)) if facets else {}
        return [
            None if (j := found.get(i)) is None else JobRecord(
                id=i, namespace=j["namespace"], name=j["name"], description=j.get("description"),
                job_type=j.get("jobType"), sql=j.get("sql"), updated_at=j.get("updatedAt"),
                facets=facet_map.get(i, {}))
            for i in ids
        ]

    def _neighbours(self, ids: Sequence[str]) -> dict[str, tuple[list[str], list[str]]]:
        out: dict[str, tuple[list[str], list[str]]] = {i: ([], []) for i in ids}
        for label in ("Dataset", "Job"):
            for r in self._read(
                f"UNWIND $ids AS id MATCH (n:{label} {{id: id}})"
                " OPTIONAL MATCH (u)-[:INPUT_TO|PRODUCES]->(n)"
                " WITH id, n, collect(DISTINCT u.id) AS up"
                " OPTIONAL MATCH (n)-[:INPUT_TO|PRODUCES]->(dn)"
                " RETURN id, up, collect(DISTINCT dn.id) AS down", ids=list(ids)):
                out[r["id"]] = (sorted(r["up"]), sorted(r["down"]))
        return out

    def job_datasets(self, job_ids: Sequence[str]) -> dict[str, tuple[list[str], list[str]]]:
        return self._neighbours(job_ids)

    def dataset_jobs(self, dataset_ids: Sequence[str]) -> dict[str, tuple[list[str], list[str]]]:
        return self._neighbours(dataset_ids)

    def _run_records(self, runs: list[dict[str, Any]],
                     facets: dict[str, dict[str, Any]] | None = None) -> list[RunRecord]:
        if facets is None:
            facets = self._facets([r["id"] for r in runs])
        return [RunRecord(
            id=run["id"], job_id=run["jobId"], state=run.get("state") or "NEW",
            started_at=run.get("startedAt"), ended_at=run.get("endedAt"),
            error_message=run.get("errorMessage"), parent_run_id=run.get("parentRunId"),
            nominal_start=run.get("nominalStart"), nominal_end=run.get("nominalEnd"),
            facets=facets.get(run["id"], {}), tags=sorted(run.get("tags") or []),
            created_at=run.get("createdAt")) for run in runs]

    # The transitions stay in the store: they are read by run_transitions only.
    _RUN = "r {.*, transitions: null}"

    def run(self, run_id: str) -> RunRecord | None:
        return self.runs_by_id([run_id])[0]

    def runs_by_id(self, ids: Sequence[str]) -> list[RunRecord | None]:
        runs = self._read(f"UNWIND $ids AS id MATCH (r:Run {{id: id}}) RETURN collect({self._RUN})"
                          " AS all", ids=list(ids))[0]["all"]
        found = {r.id: r for r in self._run_records(runs)}
        return [found.get(i) for i in ids]

    def runs(self, job_id: str, first: int = 20) -> list[RunRecord]:
        return self.runs_page(job_id, None, None, None, None, first, None)[0]

    def runs_page(self, job_id: str | None, state: str | None, since: str | None,
                  until: str | None, parent_run_id: str | None, first: int,
                  after: tuple[str, str] | None, *, facets: bool = True,
                  transitions: bool = False) -> tuple[list[RunRecord], int]:
        # sortTime is indexed with jobId (run_job_newest) and alone (run_newest): a page is
        # an index-ordered range read, whatever the number of runs.
        where = ["r.sortTime IS NOT NULL"]
        params: dict[str, Any] = {"job": job_id, "state": state, "since": since,
                                  "until": until, "parent": parent_run_id}
        for cond, key in (("r.jobId = $job", "job"), ("r.state = $state", "state"),
                          ("r.sortTime >= $since", "since"), ("r.sortTime < $until", "until"),
                          ("r.parentRunId = $parent", "parent")):
            if params[key] is not None:
                where.append(cond)
        cond = " AND ".join(where)
        # All of a job's runs are its RUN_OF relationships (one per run, to its own job: a run
        # never changes job), and Neo4j keeps each node's number of them: counted in the
        # page's own query without reading a run (counting the index entries of 10,000 runs
        # took as long as the page). Any other filter counts the runs that match, beside the
        # page (another connection), not before it.
        by_degree = job_id is not None and all(
            x is None for x in (state, since, until, parent_run_id))
        total = None if by_degree else self._read_beside(
            f"MATCH (r:Run) WHERE {cond} RETURN count(r) AS n", **params)
        # The first page too goes through the keyset (after everything): without a range on
        # sortTime the planner sorts all the job's runs instead of reading the index in order
        # (measured: 365 ms against 38 ms for a job with 10,000 runs). The keyset is a range
        # plus a filter, not an OR (planned as a union of two seeks, then a sort of every
        # run), and a job's page orders by the index's own keys (jobId first, equal on the
        # page) so the planner reads it in index order and stops after the page
        # (PartialTop over 52 rows, not Top over 10,000: 17 -> 3 ms PROFILEd).
        t, i = after if after is not None else ("\uffff", "")
        keyset = " AND r.sortTime <= $t AND NOT (r.sortTime = $t AND r.id >= $id)"
        order = ("r.jobId DESC, " if job_id is not None else "") + "r.sortTime DESC, r.id DESC"
        params |= {"t": t, "id": i}
        # The page, its facets and its transitions in one query (one round trip, not three):
        # facets by the facet_owner index per run of the page, transitions a run property.
        detail = [".*"] if transitions else [".*", "transitions: null"]
        if facets:
            detail.append("facetRows: COLLECT { MATCH (f:Facet {owner: r.id})"
                          " RETURN [f.name, f.body] }")
        count = (" OPTIONAL MATCH (j:Job {id: $job})"
                 " RETURN all, COUNT { (j)<-[:RUN_OF]-() } AS n") if by_degree else " RETURN all"
        rows = self._read(f"MATCH (r:Run) WHERE {cond}{keyset}"
                          f" WITH r ORDER BY {order} LIMIT $first"
                          f" WITH collect(r {{{', '.join(detail)}}}) AS all{count}",
                          **params, first=first)
        runs = rows[0]["all"]
        found = self._run_records(runs, {r["id"]: {name: orjson.loads(body)
                                                   for name, body in r.get("facetRows") or []}
                                         for r in runs})
        if transitions:
            for record, run in zip(found, runs, strict=True):
                record.transitions = [Transition(*orjson.loads(t))
                                      for t in run.get("transitions") or []]
        return found, int((rows if total is None else total.result())[0]["n"] or 0)

    def run_transitions(self, run_ids: Sequence[str]) -> dict[str, list[Transition]]:
        rows = self._read("UNWIND $ids AS id MATCH (r:Run {id: id})"
                          " RETURN collect([id, r.transitions]) AS all", ids=list(run_ids))
        return {run: [Transition(*orjson.loads(t)) for t in stored]
                for run, stored in rows[0]["all"] if stored}

    def run_datasets(self, run_ids: Sequence[str]
                     ) -> dict[str, tuple[list[RunDataset], list[RunDataset]]]:
        out: dict[str, tuple[list[RunDataset], list[RunDataset]]] = {
            i: ([], []) for i in run_ids}
        rows = self._read(
            "UNWIND $ids AS id MATCH (:Run {id: id})-[x:READ|WROTE]->(d:Dataset)"
            " WITH id, type(x) AS kind, d.id AS ds, x.schemaVersion AS version ORDER BY ds"
            " RETURN collect([id, kind, ds, version]) AS all", ids=list(run_ids))[0]["all"]
        # Input/output facets are kept under "<run>|<role>|<dataset>" (batching.facet_owners).
        keys = [f"{r}|{'input' if k == 'READ' else 'output'}|{ds}" for r, k, ds, _ in rows]
        facets = self._facets(keys)
        for (run, kind, ds, version), key in zip(rows, keys, strict=True):
            out[run][0 if kind == "READ" else 1].append(
                RunDataset(ds, version, facets.get(key, {})))
        return out

    def jobs_page(self, namespace: str | None, search: str | None, first: int,
                  after: str | None) -> tuple[list[str], int]:
        cond = ("($ns IS NULL OR j.namespace = $ns)"
                " AND ($search IS NULL OR toLower(j.name) CONTAINS toLower($search))")
        params = {"ns": namespace, "search": search or None}
        total = self._read(f"MATCH (j:Job) WHERE {cond} RETURN count(j) AS n", **params)[0]["n"]
        page = self._read(f"MATCH (j:Job) WHERE {cond} AND j.id > $after"
                          " RETURN j.id AS id ORDER BY id LIMIT $first",
                          **params, after=after or "", first=first)
        return [r["id"] for r in page], int(total)

    def tags_owners(self, node_ids: Sequence[str]
                    ) -> dict[str, tuple[list[str], list[str]]]:
        # By label, so each lookup is a unique-constraint index seek.
        rows = self._read("UNWIND $ids AS id OPTIONAL MATCH (j:Job {id: id})"
                          " OPTIONAL MATCH (d:Dataset {id: id}) WITH id, coalesce(j, d) AS n"
                          " WHERE n IS NOT NULL RETURN collect([id, n.tags, n.owners]) AS all",
                          ids=list(node_ids))[0]["all"]
        found = {i: (sorted(t or []), sorted(o or [])) for i, t, o in rows}
        return {i: found.get(i, ([], [])) for i in node_ids}

    def namespaces(self) -> list[str]:
        return [r["n"] for r in self._read("MATCH (x:Namespace) RETURN x.name AS n ORDER BY n")]

    def event_count(self) -> int:
        return int(self._read("MATCH (e:Event) RETURN count(e) AS n")[0]["n"])

    def datasets_page(self, namespace: str | None, search: str | None,
                      classification: str | None, first: int, after: str | None
                      ) -> tuple[list[str], int]:
        where = ["($ns IS NULL OR d.namespace = $ns)",
                 "($search IS NULL OR toLower(d.name) CONTAINS toLower($search))"]
        prefix = ""
        if classification:
            # Datasets holding it directly or inheriting it along carrying derivations.
            prefix = (
                "MATCH (f:Field) WHERE any(c IN " + CLASSES + " WHERE c = $class"
                " OR c STARTS WITH $class + '.')"
                f" OPTIONAL MATCH ANY SHORTEST (f)-[r:{CARRIES}]->{{1,{INHERIT_DEPTH}}}(t:Field)"
                " WITH collect(DISTINCT f.datasetId) + collect(DISTINCT t.datasetId) AS held ")
            where.append("d.id IN held")
        cond = " AND ".join(where)
        params = {"ns": namespace, "search": search or None, "class": classification}
        total = self._read(f"{prefix}MATCH (d:Dataset) WHERE {cond} RETURN count(d) AS n",
                           **params)[0]["n"]
        page = self._read(f"{prefix}MATCH (d:Dataset) WHERE {cond} AND d.id > $after"
                          " RETURN d.id AS id ORDER BY id LIMIT $first",
                          **params, after=after or "", first=first)
        return [r["id"] for r in page], int(total)
