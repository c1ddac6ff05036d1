"""The web UI: server-rendered pages (Jinja2) over the GraphQL schema, a little JavaScript of
our own, and GraphiQL / Swagger UI from packages installed at install time. No CDN, no build
step for our own code (docs/ui.md, docs/design.md)."""

from __future__ import annotations

import time

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from headwater.api.sessions import Sessions
from headwater.api.ui import governance, impact, lineage, pages, signin
from headwater.api.ui.data import QueryFailed
from headwater.api.ui.web import HERE, PageError, SignInNeeded, failed, sign_in_redirect

# Our pages load only what this server serves; GraphiQL and Swagger UI set inline styles.
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
       "font-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
UI_PATHS = ("/ui/", "/docs")


def install(app: FastAPI, secret: bytes, secure_cookies: bool = False) -> None:
    app.state.sessions = Sessions(secret, secure_cookies)
    for module in (pages, lineage, impact, governance, signin):
        app.include_router(module.router, include_in_schema=False)
    app.mount("/ui/static", StaticFiles(directory=HERE / "static"), name="ui-static")

    @app.exception_handler(SignInNeeded)
    async def sign_in(request: Request, _: SignInNeeded) -> Response:
        if request.url.path == "/ui/lineage/svg" or request.method != "GET":
            return Response("sign in again", status_code=401)
        return sign_in_redirect(request)

    @app.exception_handler(PageError)
    async def page_error(request: Request, exc: PageError) -> Response:
        return failed(request, exc)

    @app.exception_handler(QueryFailed)
    async def query_failed(request: Request, exc: QueryFailed) -> Response:
        return failed(request, exc)

    app.add_middleware(SecurityHeaders)


class SecurityHeaders:
    """A CSP and friends on the UI's pages, and their server time (``Server-Timing``). Pure
    ASGI: BaseHTTPMiddleware would buffer streamed responses such as static files."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path == "/" or path.startswith(UI_PATHS)):
            await self.app(scope, receive, send)
            return

        started = time.perf_counter()

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                # The page's server time, for browsers' dev tools and bench/ui.py
                took = (time.perf_counter() - started) * 1000
                headers.setdefault("Server-Timing", f"app;dur={took:.1f}")
                headers.setdefault("Content-Security-Policy", CSP)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
                if not path.startswith("/ui/static"):
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, with_headers)
