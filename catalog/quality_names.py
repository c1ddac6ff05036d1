"""Checks that name themselves (dbt-ol sends each test's name beside its kind): results
stored before they were keyed on the name, split again from the stored events. For both
stores' migrations.

Before, every dbt test of one kind on one column of one run shared a result (the last one
written won). The stored run events still hold every test: per (dataset, field, kind, run),
each named test's result is the latest event's, a failure on a tie (the write path's rule).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from headwater.catalog.ids import dataset_id
from headwater.catalog.rules import quality_result_id

SOURCE = "openlineage"


@dataclass(frozen=True, slots=True)
class Split:
    """A stored result to replace (``old_id``) by one result per named check."""

    old_id: str
    dataset_id: str
    field: str | None
    assertion: str
    run_id: str
    checks: dict[str, tuple[str, bool]]  # name -> (event time, success)

    def rows(self) -> list[dict[str, Any]]:
        return [{"id": quality_result_id(self.dataset_id, self.field, self.assertion,
                                         self.run_id, SOURCE, name),
                 "dataset": self.dataset_id, "field": self.field, "assertion": self.assertion,
                 "success": ok, "run": self.run_id, "t": t, "name": name}
                for name, (t, ok) in sorted(self.checks.items())]


def _assertions(d: Any) -> Iterable[dict[str, Any]]:
    if not isinstance(d, dict):
        return
    for facets in (d.get("facets"), d.get("inputFacets"), d.get("outputFacets")):
        facet = facets.get("dataQualityAssertions") if isinstance(facets, dict) else None
        for a in (facet.get("assertions") if isinstance(facet, dict) else None) or []:
            if isinstance(a, dict) and a.get("name") and a.get("assertion"):
                yield a


def splits(events: Iterable[tuple[str, bytes]]) -> list[Split]:
    """From stored run events (event time, payload), the results to split."""
    found: dict[tuple[str, str | None, str, str], dict[str, tuple[str, bool]]] = {}
    for t, payload in events:
        e = orjson.loads(payload)
        run = (e.get("run") or {}).get("runId") if isinstance(e, dict) else None
        if not run:
            continue
        for d in [*(e.get("inputs") or []), *(e.get("outputs") or [])]:
            for a in _assertions(d):
                key = (dataset_id(d["namespace"], d["name"]), a.get("column"),
                       str(a["assertion"]), str(run))
                checks = found.setdefault(key, {})
                ok = bool(a.get("success"))
                cur = checks.get(a["name"])
                if cur is None or (t, not ok) > (cur[0], not cur[1]):
                    checks[str(a["name"])] = (t, ok)
    return [Split(quality_result_id(ds, f, a, run, SOURCE), ds, f, a, run, checks)
            for (ds, f, a, run), checks in found.items()]
