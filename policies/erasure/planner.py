"""Discovery and plan: every dataset holding the subject, what to do with each, in what order.

A handful of bulk reads whatever the graph's size: the fields classified with the request's
identifier kinds (directly or inherited along column lineage, one query), the datasets derived
from them (one query), their records and schemas, and ONE policy evaluation for all of them.
"""

from __future__ import annotations

import graphlib
from collections import defaultdict
from typing import Any

from headwater.catalog import Store
from headwater.catalog.rules import covers
from headwater.policies.engine import PolicyEngine, PolicyEngineUnavailable
from headwater.policies.erasure.connectors import Connectors
from headwater.policies.erasure.model import Task


def classification_of(kind: str) -> str:
    """Identifier kinds match identifier classifications: ``email`` ⇔ ``pii.email``."""
    return f"pii.{kind}"


def plan(store: Store, engine: PolicyEngine, connectors: Connectors, kinds: list[str]
         ) -> list[Task]:
    """Tasks in lineage order (sources before what is derived from them). Raises
    ``PolicyEngineUnavailable``: without the exemption check nothing may be erased."""
    wanted = {classification_of(k): k for k in kinds}
    keys: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for dataset, field_name, classification, _direct in store.classification_holders(list(wanted)):
        kind = next(k for c, k in wanted.items() if covers(classification, c))
        keys[dataset][field_name].add(kind)
    holders = sorted(keys)
    edges = store.downstream_dataset_edges(holders) if holders else []
    upstream: dict[str, set[str]] = defaultdict(set)
    for src, _job, dst in edges:
        if src != dst:
            upstream[dst].add(src)
    ids = sorted(set(holders) | set(upstream))
    if not ids:
        return []
    records = dict(zip(ids, store.datasets_by_id(ids, facets=False), strict=True))
    schemas = store.fields(holders)
    decisions = _decide(engine, [
        {"id": i, "namespace": r.namespace, "name": r.name, "tags": sorted(r.tags),
         "identifierFields": sorted(keys.get(i, {})), "kinds": kinds}
        for i, r in records.items() if r is not None])

    tasks: list[Task] = []
    for n, dataset in enumerate(_lineage_order(ids, upstream), start=1):
        record = records[dataset]
        if record is None:  # an edge to a dataset never described: nothing to act on
            continue
        task = Task(id=f"t{n}", dataset=dataset, namespace=record.namespace, name=record.name,
                    action="review", status="review", owners=sorted(record.owners),
                    upstream=sorted(upstream.get(dataset, set()) & set(ids)))
        decision = decisions.get(dataset) or {}
        if decision.get("exempt"):
            task.action, task.status = "keep", "exempt"
            task.exemption = str(decision.get("basis") or "exempt by policy")
        elif dataset not in keys:
            task.review_reason = ("derived from " + ", ".join(task.upstream) + " but has no "
                                  "identifier column to search by: a steward must check it")
        else:
            task.keys = {f: sorted(k) for f, k in sorted(keys[dataset].items())}
            pii = {f.name for f in schemas.get(dataset, [])
                   if any(c == "pii" or c.startswith("pii.") for c in f.classifications)}
            task.mask_fields = sorted(pii | set(task.keys))
            task.action = str(decision.get("action") or "delete")
            task.strategy = decision.get("strategy") if task.action == "anonymise" else None
            connector = connectors.kind(record.namespace)
            if connector is None:
                task.review_reason = (f"no connector is configured for namespace "
                                      f"{record.namespace!r} (HEADWATER_CONNECTORS_FILE): erase "
                                      f"by hand and close this task with a note")
                task.action = f"review ({task.action} by hand)"
            else:
                task.connector, task.status = connector, "pending"
        tasks.append(task)
    return tasks


def _decide(engine: PolicyEngine, datasets: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    answer = engine.evaluate("headwater/erasure/plan", {"datasets": datasets})
    if not isinstance(answer, dict) or not all(isinstance(v, dict) for v in answer.values()):
        raise PolicyEngineUnavailable(f"the erasure policy answered garbage: {answer!r:.200}")
    missing = {d["id"] for d in datasets} - set(answer)
    if missing:
        raise PolicyEngineUnavailable(f"the erasure policy decided nothing for {sorted(missing)[:3]}")
    return answer


def _lineage_order(ids: list[str], upstream: dict[str, set[str]]) -> list[str]:
    """Sources first; a cycle (a job reading and writing the same table) is broken by id."""
    sorter = graphlib.TopologicalSorter({i: sorted(upstream.get(i, set()) & set(ids)) for i in ids})
    try:
        sorter.prepare()
    except graphlib.CycleError:
        depth = {i: len(upstream.get(i, ())) for i in ids}
        return sorted(ids, key=lambda i: (depth[i], i))
    order: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        order.extend(ready)
        sorter.done(*ready)
    return order
