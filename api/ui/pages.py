"""The catalog's pages: home with search, dataset, job and run."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from headwater.api.ui import queries
from headwater.api.ui.data import gql, has_field
from headwater.api.ui.lineage import preview
from headwater.api.ui.web import PageError, current_user, render

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> HTMLResponse:
    user = await current_user(request)
    data = await gql(request, user, queries.HOME_COUNTS)
    counts = {"datasets": data["datasets"]["totalCount"], "namespaces": len(data["namespaces"])}
    failed: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] | None = None
    if has_field("Query", "jobs"):
        counts["jobs"] = (await gql(request, user, queries.JOB_COUNT))["jobs"]["totalCount"]
    if has_field("Query", "runs"):
        # The last 24 hours, not since midnight UTC: that emptied the list at 00:00 UTC,
        # whatever the reader's time zone.
        since = datetime.now(UTC) - timedelta(days=1)
        runs, recent = await asyncio.gather(
            gql(request, user, queries.failed_runs()),
            gql(request, user, queries.changed_since(), {"since": since.isoformat()}))
        failed = [e["node"] for e in runs["runs"]["edges"]]
        changed = _changed(recent["runs"]["edges"])
    return render(request, "home.html", user, counts=counts, failed=failed, changed=changed,
                  namespaces=data["namespaces"][:50])


def _changed(edges: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Datasets written by the last day's runs, newest write first, each once."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for edge in edges:
        for out in edge["node"].get("outputs") or []:
            d = out["dataset"]
            seen.setdefault((d["namespace"], d["name"]), {**d, "runId": edge["node"]["id"],
                                                          "at": edge["node"]["endedAt"]})
    return list(seen.values())[:20]


@router.get("/ui/search", response_class=HTMLResponse)
async def search(request: Request, q: str = "") -> HTMLResponse:
    """Results as you type: an HTML fragment the search box shows under itself."""
    user = await current_user(request)
    q = q.strip()[:200]
    hits: list[dict[str, Any]] = []
    total = 0
    if q:
        if has_field("Query", "search"):
            data = (await gql(request, user, queries.SEARCH, {"q": q}))["search"]
            hits = [e["node"] for e in data["edges"]]
        else:
            data = (await gql(request, user, queries.SEARCH_DATASETS, {"q": q}))["datasets"]
            hits = [{"type": "DATASET", **e["node"]} for e in data["edges"]]
        total = data["totalCount"]
    return render(request, "search_results.html", user, q=q, hits=hits, total=total)


@router.get("/ui/dataset", response_class=HTMLResponse)
async def dataset(request: Request, ns: str, name: str) -> HTMLResponse:
    user = await current_user(request)
    data = await gql(request, user, queries.dataset(), {"ns": ns, "name": name})
    found = data["dataset"]
    if found is None:
        raise PageError(404, f"no dataset {name!r} in namespace {ns!r}")
    return render(request, "dataset.html", user, d=found, node=found["id"],
                  preview=preview(found["id"], _neighbourhood(found)), runs=_runs_of(found))


def _neighbourhood(d: dict[str, Any]) -> dict[str, Any]:
    """The preview's graph: the dataset, its jobs each side and their other datasets."""
    n = queries.PREVIEW_JOBS
    nodes = {d["id"]: {"id": d["id"], "type": "DATASET", "namespace": d["namespace"],
                       "name": d["name"], "field": None}}
    edges = []
    for side, jobs, far in (("up", d["producers"][:n], "inputs"),
                            ("down", d["consumers"][:n], "outputs")):
        for j in jobs:
            nodes[j["id"]] = {"id": j["id"], "type": "JOB", "namespace": j["namespace"],
                              "name": j["name"], "field": None}
            edges.append((j["id"], d["id"]) if side == "up" else (d["id"], j["id"]))
            for o in j[far]:
                nodes.setdefault(o["id"], {"id": o["id"], "type": "DATASET",
                                           "namespace": o["namespace"], "name": o["name"],
                                           "field": None})
                edges.append((o["id"], j["id"]) if side == "up" else (j["id"], o["id"]))
    return {"nodes": list(nodes.values()),
            "edges": [{"source": s, "target": t, "transformation": None} for s, t in edges],
            "truncated": len(d["producers"]) > n or len(d["consumers"]) > n}


def _runs_of(d: dict[str, Any]) -> list[dict[str, Any]]:
    """The latest runs of the jobs that write and read the dataset, newest first."""
    rows = [{**r, "job": j, "role": role}
            for role, jobs in (("writes", d["writers"]), ("reads", d["readers"]))
            for j in jobs for r in j["runs"]]
    rows.sort(key=lambda r: r.get("startedAt") or "", reverse=True)
    return rows[:30]


@router.get("/ui/job", response_class=HTMLResponse)
async def job(request: Request, ns: str, name: str) -> HTMLResponse:
    user = await current_user(request)
    found = (await gql(request, user, queries.job(), {"ns": ns, "name": name}))["job"]
    if found is None:
        raise PageError(404, f"no job {name!r} in namespace {ns!r}")
    for r in found["runs"]:
        _with_duration(r)
    return render(request, "job.html", user, j=found)


def _with_duration(run: dict[str, Any]) -> dict[str, Any]:
    """``durationMs`` from the run's times where the schema does not give it."""
    run.setdefault("durationMs", None)
    if run.get("durationMs") is None and run.get("startedAt") and run.get("endedAt"):
        took = datetime.fromisoformat(run["endedAt"]) - datetime.fromisoformat(run["startedAt"])
        run["durationMs"] = int(took.total_seconds() * 1000)
    return run


@router.get("/ui/run/{run_id}", response_class=HTMLResponse)
async def run(request: Request, run_id: str) -> HTMLResponse:
    user = await current_user(request)
    found = (await gql(request, user, queries.run(), {"id": run_id}))["run"]
    if found is None:
        raise PageError(404, f"no run {run_id!r}")
    _with_duration(found)
    facets = found.get("facets") or {}
    sql = (facets.get("sql") or {}).get("query") if isinstance(facets, dict) else None
    return render(request, "run.html", user, r=found, sql=sql or found["job"].get("sql"))
