"""``GET /api/v1/lineage``: a Marquez-shaped lineage graph."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from headwater import lineage
from headwater.api.problems import Problem
from headwater.api.security import require

router = APIRouter()


@router.get("/api/v1/lineage")
async def get_lineage(
    request: Request,
    node_id: str = Query(alias="nodeId", description="dataset:…, job:… or datasetField:… id"),
    depth: int = Query(default=5),
    direction: str = Query(default="BOTH"),
    _: str = Depends(require("viewer")),
) -> dict[str, Any]:
    store = request.app.state.store
    try:
        graph = await asyncio.to_thread(lineage.lineage, store, node_id, direction.upper(), depth)
    except lineage.LineageError as exc:
        raise Problem(400, str(exc)) from None
    if not graph.nodes:
        raise Problem(404, f"no node {node_id!r}: ids are 'dataset:<namespace>:<name>', "
                      "'job:<namespace>:<name>' or 'datasetField:<namespace>:<name>:<field>'")
    return lineage.marquez_graph(graph)
