"""What every cursor-paged list shares: ``PageInfo`` and opaque cursors.

A cursor is the keyset of the last item of a page (an id, or a (time, id) pair), base64
encoded: the next page starts strictly after it, so items added meanwhile never shift a page.
"""

from __future__ import annotations

import base64

import orjson
import strawberry

from headwater.catalog.errors import Invalid


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


def encode(key: str | list[str]) -> str:
    text = key if isinstance(key, str) else orjson.dumps(key).decode()
    return base64.urlsafe_b64encode(text.encode()).decode()


def decode(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        return base64.urlsafe_b64decode(cursor.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        raise Invalid.one(f"invalid cursor {cursor!r}: pass an endCursor from a previous page"
                          ) from None


def decode_pair(cursor: str | None) -> tuple[str, str] | None:
    """A (time, id) cursor, as ``encode([time, id])`` made it."""
    text = decode(cursor)
    if text is None:
        return None
    try:
        t, i = orjson.loads(text)
        if isinstance(t, str) and isinstance(i, str):
            return t, i
    except (ValueError, TypeError):
        pass
    raise Invalid.one(f"invalid cursor {cursor!r}: pass an endCursor from a previous page")
