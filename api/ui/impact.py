"""The impact view: pick a dataset and the fields to drop, rename or retype; the report,
paged, and the CLI command that gives the same report (for CI)."""

from __future__ import annotations

import shlex
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from headwater.api.ui import queries
from headwater.api.ui.data import gql, has_field
from headwater.api.ui.web import PageError, current_user, render

router = APIRouter()
Many = Annotated[list[str] | None, Query()]  # a parameter given any number of times
PAGE = 50
MAX_PAGES = 400  # 20,000 rows: the analysis' own cap


def _pairs(values: list[str], what: str) -> list[tuple[str, str]]:
    out = []
    for v in values:
        left, sep, right = v.partition("=")
        if not sep or not left or not right:
            raise PageError(400, f"{what} takes FIELD=VALUE, not {v!r}")
        out.append((left, right))
    return out


def cli_command(ns: str, name: str, drop: list[str], rename: list[tuple[str, str]],
                change: list[tuple[str, str]]) -> str:
    words = ["headwater", "impact", "--dataset", f"{ns}:{name}"]
    for f in drop:
        words += ["--drop-field", f]
    for a, b in rename:
        words += ["--rename-field", f"{a}={b}"]
    for f, t in change:
        words += ["--change-type", f"{f}={t}"]
    return " ".join(shlex.quote(w) for w in words)


@router.get("/ui/impact", response_class=HTMLResponse)
async def impact(request: Request, ns: str = "", name: str = "",
                 drop: Many = None, rename: Many = None,
                 change: Many = None, page: int = 0) -> HTMLResponse:
    user = await current_user(request)
    drop = [d for d in drop or [] if d]
    rename = [r for r in rename or [] if r]
    change = [c for c in change or [] if c]
    renames = _pairs(rename, "rename")
    changes = _pairs(change, "change")
    page = max(0, min(page, MAX_PAGES))
    fields: list[dict[str, Any]] = []
    report = None
    if ns and name:
        data = await gql(request, user, queries.FIELDS_OF, {"ns": ns, "name": name})
        if data["dataset"] is None:
            raise PageError(404, f"no dataset {name!r} in namespace {ns!r}")
        fields = data["dataset"]["fields"]
    if ns and name and (drop or renames or changes):
        change_input = {"namespace": ns, "name": name, "dropFields": drop,
                        "renameFields": [{"from": a, "to": b} for a, b in renames],
                        "changeTypes": [{"field": f, "to": t} for f, t in changes]}
        report = await _report(request, user, change_input, page)
    return render(request, "impact.html", user, ns=ns, name=name, fields=fields, drop=drop,
                  rename=rename, change=change, report=report, page=page, size=PAGE,
                  cli=cli_command(ns, name, drop, renames, changes) if ns and name else "")


async def _report(request: Request, user: Any, change: dict[str, Any], page: int
                  ) -> dict[str, Any]:
    if has_field("ImpactReport", "totals"):
        r = (await gql(request, user, queries.impact(True),
                       {"change": change, "first": PAGE, "offset": page * PAGE}))["impactAnalysis"]
        return r
    # Without server-side paging: the lists up to the end of this page, cut here.
    r = (await gql(request, user, queries.impact(False),
                   {"change": change, "upto": (page + 1) * PAGE + 1}))["impactAnalysis"]
    lists = ("affectedFields", "affectedDatasets", "affectedJobs")
    more = any(len(r[k]) > (page + 1) * PAGE for k in lists)
    for k in lists:
        r[k] = r[k][page * PAGE:(page + 1) * PAGE]
    r["more"] = more
    return r
