"""Signing in with a token and out, and the offline GraphiQL and Swagger UI pages."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from headwater.api.ui.data import services
from headwater.api.ui.web import HERE, current_user, form, render, sessions

router = APIRouter()
VENDOR = HERE / "static" / "vendor"
EXAMPLE_QUERY = """# Headwater's GraphQL API, as the signed-in user: try Ctrl-Enter.
# The docs (book icon, top left) list every type and field.
query Example {
  namespaces
  datasets(first: 5) {
    totalCount
    edges {
      node {
        namespace
        name
        owners
        classifications
        fields { name type classifications inheritedClassifications }
        producers { name latestRun { state startedAt } }
      }
    }
  }
}
"""


def _safe_next(target: str | None) -> str:
    """Only a path on this server: never an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    parts = urlsplit(target)
    return parts.path + (f"?{parts.query}" if parts.query else "") if not parts.netloc else "/"


@router.get("/ui/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str = "/") -> HTMLResponse:
    return render(request, "login.html", None, next=_safe_next(next), error=None)


@router.post("/ui/login", response_model=None)
async def login(request: Request) -> Response:
    fields = await form(request, None)
    token = fields.get("token", "").strip()
    target = _safe_next(fields.get("next"))
    tokens = services(request).tokens
    who = await asyncio.to_thread(tokens.identify, token) if tokens and token else None
    if tokens is not None and who is None:
        return render(request, "login.html", None, 401, next=target,
                      error="That token is unknown, revoked or expired. Ask an admin for one "
                            "('headwater token create --role viewer --name YOU').")
    response = RedirectResponse(target, status_code=303)
    sessions(request).start(response, token)
    return response


@router.post("/ui/logout")
async def logout(request: Request) -> Response:
    user = await current_user(request)
    await form(request, user)
    response = RedirectResponse("/ui/login", status_code=303)
    sessions(request).end(response)
    return response


@router.get("/ui/graphiql", response_class=HTMLResponse)
async def graphiql(request: Request, query: str | None = None) -> HTMLResponse:
    """GraphiQL from the installed vendor assets; its requests carry the session cookie and
    CSRF token, so it runs as the signed-in user with no token typed anywhere."""
    user = await current_user(request)
    return render(request, "graphiql.html", user, query=query or EXAMPLE_QUERY,
                  installed=(VENDOR / "graphiql.min.js").exists())


@router.get("/docs", response_class=HTMLResponse)
async def swagger(request: Request) -> HTMLResponse:
    user = await current_user(request)
    return render(request, "swagger.html", user,
                  installed=(VENDOR / "swagger-ui-bundle.js").exists())
