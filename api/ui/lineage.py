"""The lineage explorer: dataset/job graphs around a node and column graphs around a field,
laid out on the server (``layout``) and drawn as SVG by a template; the browser pans, zooms,
and fetches the drawing again with more nodes expanded."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from headwater.api.ui import queries
from headwater.api.ui.data import User, gql, services
from headwater.api.ui.layout import NODE_HEIGHT, NODE_WIDTH, layout
from headwater.api.ui.web import (
    PageError,
    column_url,
    current_user,
    dataset_url,
    is_pii,
    job_url,
    render,
)
from headwater.catalog.ids import dataset_id, field_id

router = APIRouter()
Many = Annotated[list[str] | None, Query()]  # a parameter given any number of times
DIRECTIONS = ("BOTH", "UPSTREAM", "DOWNSTREAM")
MAX_EXPANDED = 10  # nodes expanded in place at once (each one more lineage query)
EXPAND_DEPTH = 2  # an expanded dataset shows its jobs and their datasets
MAX_LABELLED_EDGES = 300  # beyond, transformations show on hover only


def preview(node: str, graph: dict[str, Any]) -> dict[str, Any]:
    return view_of(node, graph, label_edges=False)


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


def _label(d: dict[str, Any]) -> str:
    return str(d["name"]) if d["type"] != "FIELD" else f"{d['name']}.{d['field']}"


def _url(d: dict[str, Any]) -> str:
    if d["type"] == "DATASET":
        return dataset_url(d["namespace"], d["name"])
    if d["type"] == "JOB":
        return job_url(d["namespace"], d["name"])
    return column_url(d["namespace"], d["name"], d["field"])


def view_of(root: str, graph: dict[str, Any], pii: dict[str, list[str]] | None = None,
            expand: list[str] | None = None, label_edges: bool = True) -> dict[str, Any]:
    """What the drawing template needs, geometry and text worked out here: Jinja spends
    ~0.1 ms on each expression, which at 600 nodes is most of the page's time."""
    pii = pii or {}
    expanded = (expand or [])[:MAX_EXPANDED]
    drawn = layout(root, graph["nodes"], graph["edges"])
    nodes = []
    for n in drawn.nodes:
        d = n.data
        label = _label(d)
        classes = pii.get(n.id, [])
        kind = str(d["type"]).lower()
        css = " ".join(filter(None, ["node", kind, "root" if n.id == root else "",
                                     "pii" if is_pii(classes) else "",
                                     "expanded" if n.id in expanded else ""]))
        nodes.append({
            "id": n.id, "css": css, "x": round(n.x, 1), "y": round(n.y, 1), "url": _url(d),
            "label": label if len(label) <= 30 else "…" + label[-29:],
            "title": f"{kind} {d['namespace']} {label}"
                     + (f" [{', '.join(classes)}]" if classes else ""),
            "rx": 14 if kind == "job" else 4, "pii": is_pii(classes),
            "expand": kind != "field" and n.id != root and n.id not in expanded})
    pii_nodes = {n["id"] for n in nodes if n["pii"]}
    edges = []
    labelled = label_edges and len(drawn.edges) <= MAX_LABELLED_EDGES
    for s, t, e in drawn.edges:
        x1, y1, x2, y2 = s.x + NODE_WIDTH, s.y + NODE_HEIGHT / 2, t.x, t.y + NODE_HEIGHT / 2
        mid = (x1 + x2) / 2
        edges.append({
            "d": f"M{x1:.1f},{y1:.1f}C{mid:.1f},{y1:.1f} {mid:.1f},{y2:.1f} {x2:.1f},{y2:.1f}",
            "pii": s.id in pii_nodes, "title": e.get("transformation") or "",
            # "DIRECT/IDENTITY" reads "identity" on the drawing, in full on hover
            "label": str(e.get("transformation") or "").rsplit("/", 1)[-1].lower()
            if labelled else "",
            "lx": round(mid, 1), "ly": round((y1 + y2) / 2 - 3, 1)})
    return {"nodes": nodes, "edges": edges, "width": int(drawn.width),
            "height": int(drawn.height), "root": root, "truncated": graph["truncated"],
            "expanded": expanded, "W": NODE_WIDTH, "H": NODE_HEIGHT}


@router.get("/ui/lineage", response_class=HTMLResponse)
async def explorer(request: Request, node: str | None = None, ns: str | None = None,
                   name: str | None = None, field: str | None = None,
                   direction: str = "BOTH", depth: int = 3,
                   expand: Many = None) -> HTMLResponse:
    user = await current_user(request)
    node, ns, name, field = node or None, ns or None, name or None, field or None
    expand = expand or []
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
    return render(request, "lineage.html", user, view=view_of(root, graph, pii, expand),
                  params=params, fields=fields, column=field is not None)


@router.get("/ui/lineage/svg", response_class=HTMLResponse)
async def drawing(request: Request, node: str | None = None, ns: str | None = None,
                  name: str | None = None, field: str | None = None, direction: str = "BOTH",
                  depth: int = 3, expand: Many = None) -> HTMLResponse:
    """The drawing alone, for expanding in place."""
    user = await current_user(request)
    node, ns, name, field = node or None, ns or None, name or None, field or None
    expand = expand or []
    root, graph, pii = await _graph(request, user, node, ns, name, field, direction, depth,
                                    expand)
    return render(request, "lineage_svg.html", user, view=view_of(root, graph, pii, expand),
                  column=field is not None)
