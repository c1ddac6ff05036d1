"""Catalog reads: datasets, fields, schema versions, quality results, jobs, runs, namespaces."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import orjson

from headwater.catalog.attempts import Transition
from headwater.catalog.embedded.connection import Connections
from headwater.catalog.embedded.lineage import INHERIT_BUDGET, INHERIT_DEPTH
from headwater.catalog.model import (
    DatasetRecord,
    FieldRecord,
    JobRecord,
    QualityRecord,
    RunDataset,
    RunRecord,
    SchemaVersionRecord,
)
from headwater.catalog.rules import LINEAGE, retention_days


class CatalogReads(Connections):
    def _facets(self, node_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for r in self._in("SELECT node_id, name, body FROM facets WHERE node_id IN ({ids})", node_ids):
            out.setdefault(r["node_id"], {})[r["name"]] = orjson.loads(r["body"])
        return out

    def _tags_owners(self, ids: Sequence[str]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        tags: dict[str, list[str]] = {}
        owners: dict[str, list[str]] = {}
        for r in self._in("SELECT node_id, tag FROM tags WHERE node_id IN ({ids}) ORDER BY tag", ids):
            tags.setdefault(r["node_id"], []).append(r["tag"])
        for r in self._in(
            "SELECT node_id, owner FROM owners WHERE node_id IN ({ids}) ORDER BY owner", ids
        ):
            owners.setdefault(r["node_id"], []).append(r["owner"])
        return tags, owners

    def dataset(self, namespace: str, name: str) -> DatasetRecord | None:
        # By (namespace, name), never by parsing an id: namespaces contain colons.
        rows = self._rows("SELECT id FROM datasets WHERE namespace = ? AND name = ?",
                          (namespace, name))
        return self.datasets_by_id([rows[0][0]])[0] if rows else None

    def datasets_by_id(self, ids: Sequence[str], facets: bool = True
                       ) -> list[DatasetRecord | None]:
        rows = {r["id"]: r for r in self._in("SELECT * FROM datasets WHERE id IN ({ids})", ids)}
        found = list(rows)
        tags, owners = self._tags_owners(found)
        facet_map = self._facets(found) if facets else {}
        # The lifecycle is the newest lifecycleStateChange facet (by event time, whatever the
        # arrival order), with its time: DROP says when the dataset was dropped.
        lifecycle = {r["node_id"]: (orjson.loads(r["body"]).get("lifecycleStateChange"),
                                    r["event_time"]) for r in self._in(
            "SELECT node_id, body, event_time FROM facets WHERE name = 'lifecycleStateChange'"
            " AND node_id IN ({ids})", found)}
        out: list[DatasetRecord | None] = []
        for i in ids:
            r = rows.get(i)
            out.append(
                None if r is None else DatasetRecord(
                    id=i, namespace=r["namespace"], name=r["name"], description=r["description"],
                    tags=tags.get(i, []), owners=owners.get(i, []),
                    retention_days=retention_days(r["retention_days"], tags.get(i, [])),
                    lifecycle_state=lifecycle.get(i, (r["lifecycle_state"], None))[0],
                    updated_at=r["updated_at"], facets=facet_map.get(i, {}),
                    lifecycle_at=lifecycle.get(i, (None, None))[1],
                )
            )
        return out

    def node_names(self, kind: str, ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
        sql = {"dataset": "SELECT id, namespace, name FROM datasets WHERE id IN ({ids})",
               "job": "SELECT id, namespace, name FROM jobs WHERE id IN ({ids})",
               "field": "SELECT f.id, d.namespace, d.name, f.field FROM field_nodes f"
                        " JOIN datasets d ON d.id = f.dataset_id WHERE f.id IN ({ids})"}[kind]
        return {r[0]: tuple(r[1:]) for r in self._in(sql, ids)}

    def fields(self, dataset_ids: Sequence[str]) -> dict[str, list[FieldRecord]]:
        out: dict[str, list[FieldRecord]] = {i: [] for i in dataset_ids}
        for r in self._in(
            "SELECT dataset_id, fields FROM schema_versions s WHERE dataset_id IN ({ids})"
            " AND version = (SELECT max(version) FROM schema_versions WHERE dataset_id = s.dataset_id)",
            dataset_ids,
        ):
            out[r["dataset_id"]] = [FieldRecord(n, t, d) for n, t, d in orjson.loads(r["fields"])]
        # Columns only column lineage names (dbt-ol's schema facet lists documented columns
        # only): columns all the same, of unknown type, after the schema's, by name.
        known = {(ds, f.name) for ds, fs in out.items() for f in fs}
        for r in self._in("SELECT dataset_id, field FROM field_nodes WHERE dataset_id IN ({ids})"
                          " ORDER BY field", dataset_ids):
            if (r["dataset_id"], r["field"]) not in known:
                out[r["dataset_id"]].append(FieldRecord(r["field"], learned_from=LINEAGE))
        classes: dict[tuple[str, str], set[str]] = {}
        for r in self._in(
            "SELECT dataset_id, field, classification FROM field_classifications"
            " WHERE dataset_id IN ({ids})",
            dataset_ids,
        ):
            classes.setdefault((r["dataset_id"], r["field"]), set()).add(r["classification"])
        for ds, fields in out.items():
            for f in fields:
                f.classifications = sorted(classes.get((ds, f.name), ()))
        return out

    def schema_versions(self, dataset_id: str, first: int = 20) -> list[SchemaVersionRecord]:
        rows = self._rows(
            "SELECT version, created_at, run_id, fields FROM schema_versions WHERE dataset_id = ?"
            " ORDER BY version DESC LIMIT ?",
            (dataset_id, first),
        )
        return [
            SchemaVersionRecord(
                r["version"], r["created_at"], r["run_id"],
                [FieldRecord(n, t, d) for n, t, d in orjson.loads(r["fields"])],
            )
            for r in rows
        ]

    def quality_results(self, dataset_id: str, first: int = 20, run_id: str | None = None,
                        field: str | None = None, failures_only: bool = False
                        ) -> list[QualityRecord]:
        rows = self._rows(
            "SELECT * FROM quality_results WHERE dataset_id = :ds"
            " AND (:run IS NULL OR run_id = :run) AND (:field IS NULL OR field = :field)"
            " AND (:failed = 0 OR success = 0)"
            " ORDER BY observed_at DESC, assertion, field LIMIT :first",
            {"ds": dataset_id, "run": run_id, "field": field, "failed": int(failures_only),
             "first": first},  # type: ignore[arg-type]
        )
        return [
            QualityRecord(r["assertion"], bool(r["success"]), r["field"], r["run_id"],
                          r["observed_at"], r["source"],
                          orjson.loads(r["value"]) if r["value"] else None, r["name"])
            for r in rows
        ]

    def latest_quality(self, dataset_ids: Sequence[str]) -> dict[str, list[QualityRecord]]:
        out: dict[str, list[QualityRecord]] = {i: [] for i in dataset_ids}
        for r in self._in(
            "SELECT * FROM (SELECT q.*, row_number() OVER (PARTITION BY dataset_id, assertion,"
            " coalesce(field, ''), coalesce(name, '') ORDER BY observed_at DESC) AS n"
            " FROM quality_results q WHERE dataset_id IN ({ids})) WHERE n = 1"
            " ORDER BY assertion, field, name", dataset_ids,
        ):
            out[r["dataset_id"]].append(QualityRecord(
                r["assertion"], bool(r["success"]), r["field"], r["run_id"], r["observed_at"],
                r["source"], orjson.loads(r["value"]) if r["value"] else None, r["name"]))
        return out

    def alias_targets(self, dataset_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        return {r[0]: (r[1], r[2]) for r in self._in(
            "SELECT alias_id, namespace, name FROM dataset_aliases WHERE alias_id IN ({ids})",
            list(dataset_ids))}

    def job(self, namespace: str, name: str) -> JobRecord | None:
        rows = self._rows("SELECT id FROM jobs WHERE namespace = ? AND name = ?", (namespace, name))
        return self.jobs_by_id([rows[0][0]])[0] if rows else None

    def jobs_by_id(self, ids: Sequence[str], facets: bool = True) -> list[JobRecord | None]:
        # Plain tuples: impact analysis asks for thousands at once.
        rows = {r[0]: r for r in self._db.execute(
            "SELECT j.id, j.namespace, j.name, j.description, j.job_type, j.sql, j.updated_at"
            " FROM json_each(?) s JOIN jobs j ON j.id = s.value",
            (orjson.dumps(list(ids)).decode(),))}
        facet_map = self._facets(list(rows)) if facets else {}
        return [
            None if (r := rows.get(i)) is None
            else JobRecord(i, r[1], r[2], r[3], r[4], r[5], r[6], facet_map.get(i, {}))
            for i in ids
        ]

    def _neighbours(self, ids: Sequence[str]) -> dict[str, tuple[list[str], list[str]]]:
        """Per node: (upstream neighbours, downstream neighbours), sorted."""
        out: dict[str, tuple[list[str], list[str]]] = {i: ([], []) for i in ids}
        for r in self._in("SELECT src, dst FROM edges WHERE dst IN ({ids}) ORDER BY src", ids):
            out[r["dst"]][0].append(r["src"])
        for r in self._in("SELECT src, dst FROM edges WHERE src IN ({ids}) ORDER BY dst", ids):
            out[r["src"]][1].append(r["dst"])
        return out

    def job_datasets(self, job_ids: Sequence[str]) -> dict[str, tuple[list[str], list[str]]]:
        return self._neighbours(job_ids)

    def dataset_jobs(self, dataset_ids: Sequence[str]) -> dict[str, tuple[list[str], list[str]]]:
        return self._neighbours(dataset_ids)

    def datasets_page(self, namespace: str | None, search: str | None,
                      classification: str | None, first: int, after: str | None
                      ) -> tuple[list[str], int]:
        where: list[str] = ["1"]
        params: dict[str, Any] = {}
        if namespace is not None:
            where.append("namespace = :ns")
            params["ns"] = namespace
        if search:
            where.append("instr(lower(name), lower(:search)) > 0")
            params["search"] = search
        if classification:
            # Datasets holding it directly, or inheriting it along column lineage (the same
            # rule as inherited_classifications, walked forward from the classified fields).
            where.append(
                "id IN (WITH RECURSIVE classified(dataset_id, field) AS ("
                "  SELECT dataset_id, field FROM field_classifications"
                "  WHERE classification = :class OR classification LIKE :sub ESCAPE '\\'),"
                " down(node, depth) AS ("
                "  SELECT f.id, 0 FROM classified c JOIN field_nodes f"
                "   ON f.dataset_id = c.dataset_id AND f.field = c.field UNION"
                "  SELECT e.target_id, d.depth + 1 FROM down d"
                "   JOIN column_edges e ON e.source_id = d.node"
                "  WHERE d.depth < :depth AND e.masking = 0 AND NOT EXISTS (SELECT 1 FROM"
                "   declassified_edges x WHERE x.source_id = e.source_id"
                "   AND x.target_id = e.target_id) LIMIT :budget)"
                " SELECT dataset_id FROM classified UNION"
                " SELECT f.dataset_id FROM down JOIN field_nodes f ON f.id = down.node)")
            params |= {"class": classification, "depth": INHERIT_DEPTH, "budget": INHERIT_BUDGET,
                       "sub": classification.replace("%", "\\%").replace("_", "\\_") + ".%"}
        cond = " AND ".join(where)
        total = self._db.execute(f"SELECT count(*) FROM datasets WHERE {cond}", params).fetchone()
        page = self._db.execute(
            f"SELECT id FROM datasets WHERE {cond} AND id > :after ORDER BY id LIMIT :first",
            {**params, "after": after or "", "first": first},
        ).fetchall()
        return [r[0] for r in page], int(total[0])

    def _run_records(self, rows: Sequence[sqlite3.Row]) -> list[RunRecord]:
        ids = [r["id"] for r in rows]
        facets = self._facets(ids)
        tags, _ = self._tags_owners(ids)
        return [RunRecord(
            id=r["id"], job_id=r["job_id"], state=r["state"] or "NEW", started_at=r["started_at"],
            ended_at=r["ended_at"], error_message=r["error_message"],
            parent_run_id=r["parent_run_id"], nominal_start=r["nominal_start"],
            nominal_end=r["nominal_end"], facets=facets.get(r["id"], {}),
            tags=tags.get(r["id"], []), created_at=r["created_at"]) for r in rows]

    def run(self, run_id: str) -> RunRecord | None:
        return self.runs_by_id([run_id])[0]

    def runs_by_id(self, ids: Sequence[str]) -> list[RunRecord | None]:
        found = {r.id: r for r in self._run_records(
            self._in("SELECT * FROM runs WHERE id IN ({ids})", ids))}
        return [found.get(i) for i in ids]

    def runs(self, job_id: str, first: int = 20) -> list[RunRecord]:
        return self.runs_page(job_id, None, None, None, None, first, None)[0]

    def runs_page(self, job_id: str | None, state: str | None, since: str | None,
                  until: str | None, parent_run_id: str | None, first: int,
                  after: tuple[str, str] | None) -> tuple[list[RunRecord], int]:
        # The sort expression is the indexed one (runs_job_newest, runs_newest), so a page is
        # an index range read backwards, whatever the number of runs.
        where = ["1"]
        params: dict[str, Any] = {"job": job_id, "state": state, "since": since,
                                  "until": until, "parent": parent_run_id}
        for cond, key in (("job_id = :job", "job"), ("state = :state", "state"),
                          ("coalesce(started_at, created_at) >= :since", "since"),
                          ("coalesce(started_at, created_at) < :until", "until"),
                          ("parent_run_id = :parent", "parent")):
            if params[key] is not None:
                where.append(cond)
        cond = " AND ".join(where)
        total = self._db.execute(f"SELECT count(*) FROM runs WHERE {cond}", params).fetchone()
        keyset = ""
        if after is not None:
            keyset = " AND (coalesce(started_at, created_at), id) < (:t, :id)"
            params |= {"t": after[0], "id": after[1]}
        rows = self._rows(
            f"SELECT * FROM runs WHERE {cond}{keyset}"
            " ORDER BY coalesce(started_at, created_at) DESC, id DESC LIMIT :first",
            {**params, "first": first})  # type: ignore[arg-type]
        return self._run_records(rows), int(total[0])

    def run_transitions(self, run_ids: Sequence[str]) -> dict[str, list[Transition]]:
        out: dict[str, list[Transition]] = {}
        for r in self._in("SELECT run_id, event_time, event_type, state, error_message,"
                          " try_number FROM run_transitions WHERE run_id IN ({ids})", run_ids):
            out.setdefault(r[0], []).append(Transition(*tuple(r)[1:]))
        return out

    def run_datasets(self, run_ids: Sequence[str]
                     ) -> dict[str, tuple[list[RunDataset], list[RunDataset]]]:
        out: dict[str, tuple[list[RunDataset], list[RunDataset]]] = {
            i: ([], []) for i in run_ids}
        rows = self._in("SELECT run_id, direction, dataset_id, schema_version FROM run_io"
                        " WHERE run_id IN ({ids}) ORDER BY dataset_id", run_ids)
        # Input/output facets are kept under "<run>|<role>|<dataset>" (batching.facet_owners).
        keys = [f"{r[0]}|{'input' if r[1] == 'in' else 'output'}|{r[2]}" for r in rows]
        facets = self._facets(keys)
        for r, key in zip(rows, keys, strict=True):
            out[r[0]][0 if r[1] == "in" else 1].append(
                RunDataset(r[2], r[3], facets.get(key, {})))
        return out

    def jobs_page(self, namespace: str | None, search: str | None, first: int,
                  after: str | None) -> tuple[list[str], int]:
        where = ["1"]
        params: dict[str, Any] = {"ns": namespace, "search": search}
        if namespace is not None:
            where.append("namespace = :ns")
        if search:
            where.append("instr(lower(name), lower(:search)) > 0")
        cond = " AND ".join(where)
        total = self._db.execute(f"SELECT count(*) FROM jobs WHERE {cond}", params).fetchone()
        page = self._db.execute(
            f"SELECT id FROM jobs WHERE {cond} AND id > :after ORDER BY id LIMIT :first",
            {**params, "after": after or "", "first": first}).fetchall()
        return [r[0] for r in page], int(total[0])

    def tags_owners(self, node_ids: Sequence[str]
                    ) -> dict[str, tuple[list[str], list[str]]]:
        tags, owners = self._tags_owners(node_ids)
        return {i: (tags.get(i, []), owners.get(i, [])) for i in node_ids}

    def namespaces(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT name FROM namespaces ORDER BY name")]

    def event_count(self) -> int:
        return int(self._rows("SELECT count(*) FROM events")[0][0])
