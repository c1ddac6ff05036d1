"""JSON responses rendered by orjson (FastAPI deprecated its own ORJSONResponse, which now
warns on every response it builds). A ``JSONResponse`` to FastAPI, so the OpenAPI document
describes its bodies as JSON (any other class is documented as a string)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse


class OrjsonResponse(JSONResponse):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)
