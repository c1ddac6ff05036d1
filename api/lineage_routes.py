"""``GET /api/v1/lineage``: a Marquez-shaped lineage graph."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from headwater.api.auth import require
from headwater.api.documented import AUTHENTICATED, problems
from headwater.lineage.service import Lineage

router = APIRouter()


@router.get("/api/v1/lineage", responses=problems(400, *AUTHENTICATED, 404, 422, 503))
async def get_lineage(
    request: Request,
    node_id: str = Query(alias="nodeId", description="dataset:…, job:… or datasetField:… id"),
    depth: int = Query(default=5),
    direction: str = Query(default="BOTH"),
    _: str = Depends(require("viewer")),
) -> dict[str, Any]:
    service: Lineage = request.app.state.services.lineage
    return await request.app.state.services.bulkheads.read(service.marquez, node_id,
                                                           direction.upper(), depth)
