"""The lineage explorer: dataset/job graphs around a node and column graphs around a field,
laid out on the server (``layout``) and drawn as SVG by a template; the browser pans, zooms,
and fetches the drawing again with more nodes expanded."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from headwater.api.ui import queries
from headwater.api.ui.data import User, gql, services
from headwater.api.ui.layout import NODE_HEIGHT, NODE_WIDTH, Layout, layout
from headwater.api.ui.web import PageError, current_user, is_pii, render
from headwater.catalog.ids import dataset_id, field_id

router = APIRouter()
DIRECTIONS = ("BOTH", "UPSTREAM", "DOWNSTREAM")
MAX_EXPANDED = 10  # nodes expanded in place at once (each one more lineage query)
EXPAND_DEPTH = 2  # an expanded dataset shows its jobs and their datasets
MAX_LABELLED_EDGES = 300  # beyond, transformations show on hover only


def preview(node: str, graph: dict[str, Any]) -> Layout:
    return layout(node, graph["nodes"], graph["edges"])


def _merge(graphs: list[dict[str, Any]]) -> dict[str, Any]:
    nodes: dict[str, dict[str, Any]] = {}
    edges: dict[tuple[str, str], dict[str, Any]] = {}
    for g in graphs:
        for n in g["nodes"]:
            nodes.setdefault(n["id"], n)
        for e in g["edges"]:
            edges.setdefault((e["source"], e["target"]), e)
    return {"nodes": list(nodes.values()), "edges": list(edges.values()),
            "truncated": any(g["truncated"] for g in graphs)}


async def _pii_fields(request: Request, nodes: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Each field node's classifications, direct and inherited, in two bulk reads. (GraphQL
    would need one aliased ``dataset`` per dataset in the graph: hundreds, over its alias
    limit.)"""
    catalog = services(request).catalog
    bulk = services(request).bulkheads
    datasets = sorted({dataset_id(n["namespace"], n["name"]) for n in nodes})
    fields = await bulk.read(catalog.fields, datasets)
    ids = [n["id"] for n in nodes]
    inherited = await bulk.read(catalog.inherited_classifications, ids)
    direct = {field_id(n["namespace"], n["name"], f.name): f.classifications
              for n in nodes for f in fields.get(dataset_id(n["namespace"], n["name"]), [])
              if f.name == n["field"]}
    return {i: sorted({*direct.get(i, []), *inherited.get(i, [])}) for i in ids}


async def _graph(request: Request, user: User, node: str | None, ns: str | None,
                 name: str | None, field: str | None, direction: str, depth: int,
                 expand: list[str]) -> tuple[str, dict[str, Any], dict[str, list[str]]]:
    if direction not in DIRECTIONS:
        raise PageError(400, f"direction must be one of {', '.join(DIRECTIONS)}")
    if not 1 <= depth <= 20:
        raise PageError(400, "depth must be between 1 and 20")
    if field is not None:
        if not ns or not name:
            raise PageError(400, "column mode needs ns, name and field")
        data = await gql(request, user, queries.COLUMNS, {
            "ns": ns, "name": name, "field": field, "direction": direction, "depth": depth})
        graph = data["columnLineage"]
        root = field_id(ns, name, field)
        return root, graph, await _pii_fields(request, graph["nodes"])
    if not node:
        raise PageError(400, "pick a node: open the explorer from a dataset or job page")
    asked = [gql(request, user, queries.LINEAGE,
                 {"node": node, "direction": direction, "depth": depth})]
    asked += [gql(request, user, queries.LINEAGE,
                  {"node": n, "direction": "BOTH", "depth": EXPAND_DEPTH})
              for n in expand[:MAX_EXPANDED]]
    graph = _merge([d["lineage"] for d in await asyncio.gather(*asked)])
    return node, graph, {}


def _view(root: str, graph: dict[str, Any], pii: dict[str, list[str]],
          expand: list[str]) -> dict[str, Any]:
    drawn = layout(root, graph["nodes"], graph["edges"])
    for placed in drawn.nodes:
        placed.data = {**placed.data, "classes": pii.get(placed.id, []),
                       "pii": is_pii(pii.get(placed.id))}
    flows = {s.id for s, _, _ in drawn.edges if s.data.get("pii")}
    return {"layout": drawn, "root": root, "truncated": graph["truncated"],
            "expanded": expand[:MAX_EXPANDED], "pii_sources": flows,
            "label_edges": len(drawn.edges) <= MAX_LABELLED_EDGES,
            "W": NODE_WIDTH, "H": NODE_HEIGHT}


@router.get("/ui/lineage", response_class=HTMLResponse)
async def explorer(request: Request, node: str | None = None, ns: str | None = None,
                   name: str | None = None, field: str | None = None,
                   direction: str = "BOTH", depth: int = 3,
                   expand: list[str] = Query(default=[])) -> HTMLResponse:
    user = await current_user(request)
    node, ns, name, field = node or None, ns or None, name or None, field or None
    if node is None and field is None:
        return render(request, "lineage.html", user, view=None, params={})
    root, graph, pii = await _graph(request, user, node, ns, name, field, direction, depth,
                                    expand)
    fields: list[dict[str, Any]] = []
    if field is not None or (node or "").startswith("dataset:"):
        where = (ns, name) if field is not None else None
        if where is None:
            found = next((n for n in graph["nodes"] if n["id"] == node), None)
            where = (found["namespace"], found["name"]) if found else None
        if where:
            data = await gql(request, user, queries.FIELDS_OF, {"ns": where[0], "name": where[1]})
            fields = (data["dataset"] or {}).get("fields", [])
            ns, name = where
    params = {"node": node, "ns": ns, "name": name, "field": field, "direction": direction,
              "depth": depth}
    return render(request, "lineage.html", user, view=_view(root, graph, pii, expand),
                  params=params, fields=fields, column=field is not None)


@router.get("/ui/lineage/svg", response_class=HTMLResponse)
async def drawing(request: Request, node: str | None = None, ns: str | None = None,
                  name: str | None = None, field: str | None = None, direction: str = "BOTH",
                  depth: int = 3, expand: list[str] = Query(default=[])) -> HTMLResponse:
    """The drawing alone, for expanding in place."""
    user = await current_user(request)
    node, ns, name, field = node or None, ns or None, name or None, field or None
    root, graph, pii = await _graph(request, user, node, ns, name, field, direction, depth,
                                    expand)
    return render(request, "lineage_svg.html", user, view=_view(root, graph, pii, expand),
                  column=field is not None)
