"""What every page shares: the templates, who is signed in, CSRF on posted forms, and HTML
error pages (a browser gets a page it can act on, not a JSON problem document)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from headwater.api.bodies import read_limited
from headwater.api.sessions import Sessions, csrf_matches
from headwater.api.ui.data import PageError, QueryFailed, User, services
from headwater.api.ui.drawing import svg
from headwater.catalog.ids import dataset_id, job_id

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
MAX_FORM_BYTES = 64 * 1024


class SignInNeeded(Exception):
    """No valid session: the page answers with a redirect to sign-in."""


def sessions(request: Request) -> Sessions:
    found: Sessions = request.app.state.sessions
    return found


async def current_user(request: Request) -> User:
    """The signed-in user (every role check starts here), or a redirect to sign in."""
    tokens = services(request).tokens
    session = sessions(request).of(request)
    if session is None:  # with --no-auth too: the session holds the CSRF token
        raise SignInNeeded()
    if tokens is None:  # --no-auth, loopback only: everyone is the local admin
        request.state.user = User("anonymous", "admin", session.csrf)
        return request.state.user
    who = await asyncio.to_thread(tokens.identify, session.token)
    if who is None:  # revoked or expired since sign-in
        raise SignInNeeded()
    request.state.user = User(who.name, who.role, session.csrf)  # for error pages' menus
    return request.state.user


async def form(request: Request, user: User | None) -> dict[str, str]:
    """A posted form's fields, once its CSRF token (and origin, when the browser says) match
    the session's; else 403."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
        raise PageError(403, "this form was posted from another site; reload the page and "
                        "submit it again")
    body = await read_limited(request, MAX_FORM_BYTES, "send a shorter form")
    fields = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    if user is not None:
        session = sessions(request).of(request)
        if session is None or not csrf_matches(session, fields.get("csrf")):
            raise PageError(403, "the form's CSRF token is missing or stale: reload the page "
                            "and submit it again")
    return fields


def render(request: Request, template: str, user: User | None, code: int = 200,
           **values: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, template, {"user": user, **values},
                                      status_code=code)


def failed(request: Request, exc: QueryFailed | PageError) -> HTMLResponse:
    user = getattr(request.state, "user", None)
    if isinstance(exc, PageError):
        return render(request, "error.html", user, exc.status, messages=[exc.message])
    status = {"FORBIDDEN": 403, "NOT_FOUND": 404, "TOO_EXPENSIVE": 400, "OVERLOADED": 503,
              "TIMEOUT": 504}.get(next((c for c in exc.codes if c), ""), 400)
    return render(request, "error.html", user, status, messages=exc.messages)


def sign_in_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/ui/login?next={quote(target)}", status_code=303)


# Template helpers -------------------------------------------------------------------------

def _q(value: str) -> str:
    # ':' and '/' may stand in a query: namespaces keep them, which also takes quote's fast
    # path (a 600-node drawing builds 600 links)
    return quote(value, safe=":/@")


def dataset_url(namespace: str, name: str) -> str:
    return f"/ui/dataset?ns={_q(namespace)}&name={_q(name)}"


def job_url(namespace: str, name: str) -> str:
    return f"/ui/job?ns={_q(namespace)}&name={_q(name)}"


def lineage_url(node: str, **extra: Any) -> str:
    return "/ui/lineage?" + urlencode({"node": node, **extra})


def column_url(namespace: str, name: str, field: str) -> str:
    return f"/ui/lineage?ns={_q(namespace)}&name={_q(name)}&field={_q(field)}"


def when(value: str | None) -> str:
    """An ISO time as 'YYYY-MM-DD HH:MM:SS' UTC, the full value in a tooltip."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def duration(ms: int | None) -> str:
    if ms is None:
        return ""
    if ms < 1000:
        return f"{ms} ms"
    seconds = ms / 1000
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def marked(highlight: str | None) -> Markup:
    """A search hit's highlight (already HTML-escaped, words in <mark>) as HTML, once it holds
    no other markup; else escaped whole."""
    text = highlight or ""
    bare = text.replace("<mark>", "").replace("</mark>", "")
    return Markup(text) if "<" not in bare and ">" not in bare else Markup.escape(text)


def is_pii(classes: list[str] | None) -> bool:
    return any(c == "pii" or c.startswith("pii.") or c.startswith("sensitive")
               for c in classes or [])


templates.env.globals.update(dataset_url=dataset_url, job_url=job_url, lineage_url=lineage_url,
                             column_url=column_url, dataset_id=dataset_id, job_id=job_id)
templates.env.filters.update(svg=svg, marked=marked, when=when, duration=duration, pretty=pretty,
                             is_pii=is_pii,
                             # only %XX, &, = and +: nothing to escape in an attribute
                             urlencode=lambda d: Markup(urlencode(d, doseq=True)))
