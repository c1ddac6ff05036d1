"""Request bodies read under a limit: refused with 413 as soon as they are known to be too large
(by Content-Length, else while they stream in), before anything parses them."""

from __future__ import annotations

from fastapi import Request

from headwater.catalog.errors import TooLarge


async def read_limited(request: Request, limit: int, advice: str) -> bytes:
    """The body, also kept on the request (where Starlette's ``body()`` finds it). ``advice``
    tells the caller what to do when it is too large."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"body of {declared} bytes exceeds the {limit}-byte limit of "
                       f"{request.url.path}; {advice}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"body exceeds the {limit}-byte limit of {request.url.path}; {advice}")
        chunks.append(chunk)
    body = request._body = b"".join(chunks)
    return body
