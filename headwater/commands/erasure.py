"""``headwater erase``: erasure requests, their audit, and the worker."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from headwater.commands.options import pairs, url_option
from headwater.settings import Settings


@click.group()
def erase() -> None:
    """GDPR erasure requests: file, follow, prove (steward token)."""


def _client_call(url: str, fn: Any) -> Any:
    from headwater.client import Client, HeadwaterError

    try:
        with Client(url) as client:
            return fn(client)
    except HeadwaterError as exc:
        raise click.ClickException(str(exc)) from None


def _print_request(req: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    extended = " (extended)" if req["extension"] else ""
    console.print(f"[bold]{req['id']}[/]  {req['status']}  {req['jurisdiction']}  received "
                  f"{req['receivedAt']}  deadline {req['deadline']}{extended}"
                  + ("  [bold red]OVERDUE[/]" if req["overdue"] else ""))
    table = Table("task", "dataset", "action", "status", "tries", "rows", "note")
    for t in req["tasks"]:
        note = t["exemption"] or t["error"] or t["reviewReason"] or t["note"] or ""
        table.add_row(t["id"], f"{t['dataset']['namespace']} {t['dataset']['name']}",
                      t["action"], t["status"], str(t["attempts"]),
                      "" if t["rowsAffected"] is None else str(t["rowsAffected"]), note)
    console.print(table)


@erase.command("request")
@click.option("--id", "identifiers", multiple=True, required=True,
              help="KIND=VALUE, e.g. email=a@b.c (repeatable).")
@click.option("--jurisdiction", default="GDPR", show_default=True)
@click.option("--reason", help="Why (kept in the audit trail).")
@click.option("--json", "as_json", is_flag=True)
@url_option
def erase_request(identifiers: tuple[str, ...], jurisdiction: str, reason: str | None,
                  as_json: bool, url: str) -> None:
    """File an erasure request; prints its id and deadline."""
    ids = pairs(identifiers, "--id")
    req = _client_call(url, lambda c: c.file_erasure(ids, jurisdiction, reason))
    if as_json:
        click.echo(json.dumps(req))
    else:
        click.echo(f"{req['id']}  {req['status']}  deadline {req['deadline']}")
        click.echo(f"follow it: headwater erase status {req['id']}")


@erase.command("status")
@click.argument("request_id")
@click.option("--json", "as_json", is_flag=True)
@url_option
def erase_status(request_id: str, as_json: bool, url: str) -> None:
    """The request and its tasks."""
    req = _client_call(url, lambda c: c.erasure(request_id))
    if as_json:
        click.echo(json.dumps(req))
    else:
        _print_request(req)


@erase.command("audit")
@click.argument("request_id")
@click.option("--json", "as_json", is_flag=True)
@url_option
def erase_audit(request_id: str, as_json: bool, url: str) -> None:
    """The request's audit trail, oldest first, and whether its chain verifies: exits 1 when
    it does not (an entry altered, missing or added)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    answer = _client_call(url, lambda c: c.erasure_audit(request_id))
    if as_json:
        click.echo(json.dumps(answer))
    else:
        table = Table("#", "at", "actor", "event", "details")
        skip = {"seq", "at", "actor", "event", "requestId", "prev", "hash", "alg"}
        for e in answer["entries"]:
            details = ", ".join(f"{k}={json.dumps(v)}" for k, v in e.items() if k not in skip)
            table.add_row(str(e.get("seq")), str(e.get("at")), str(e.get("actor")),
                          str(e.get("event")), escape(details))
        console = Console(width=200)
        console.print(table)
        line = _chain_summary(answer)
        style = {"verified": "green", "unkeyed": "yellow"}.get(answer["integrity"], "bold red")
        console.print(f"[{style}]{escape(line)}[/]", soft_wrap=True)
    if answer["integrity"] == "broken":
        raise SystemExit(1)


def _chain_summary(answer: dict[str, Any]) -> str:
    length, head = answer["length"], answer["head"]
    if answer["integrity"] == "verified":
        return f"verified ({length} entries, head {head})"
    if answer["integrity"] == "unkeyed":
        return f"{answer['reason']} ({length} entries, head {head})"
    return f"NOT verified: {answer['reason']}"


@erase.command("extend")
@click.argument("request_id")
@click.option("--reason", required=True, help="Why more time is needed (told to the subject).")
@url_option
def erase_extend(request_id: str, reason: str, url: str) -> None:
    """Extend the deadline once (GDPR: by two months, decided before the first month ends)."""
    req = _client_call(url, lambda c: c.erasure_action(request_id, "extension", reason=reason))
    click.echo(f"{req['id']}  deadline {req['deadline']}")


@erase.command("retry")
@click.argument("request_id")
@url_option
def erase_retry(request_id: str, url: str) -> None:
    """Run a FAILED request's unfinished tasks again."""
    req = _client_call(url, lambda c: c.erasure_action(request_id, "retry"))
    click.echo(f"{req['id']}  {req['status']}")


@erase.command("close")
@click.argument("request_id")
@click.argument("task_id")
@click.option("--note", required=True, help="What was checked or erased (the evidence).")
@url_option
def erase_close(request_id: str, task_id: str, note: str, url: str) -> None:
    """Close a manual-review task with a note."""
    req = _client_call(url, lambda c: c.erasure_action(request_id, f"tasks/{task_id}/close",
                                                        note=note))
    click.echo(f"{req['id']}  {req['status']}")


@erase.command("worker")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None)
@click.option("--store", type=click.Choice(["embedded", "neo4j"]), default=None)
@click.option("--policy-engine", type=click.Choice(["embedded", "opa"]), default=None)
def erase_worker(data_dir: Path | None, store: str | None, policy_engine: str | None) -> None:
    """Run the erasure worker alone (beside servers started with HEADWATER_ERASURE_WORKER=false)."""
    import signal
    import threading

    from headwater.catalog import open_store
    from headwater.logs import configure
    from headwater.policies import erasure
    from headwater.policies.engine import open_engine

    settings = Settings.load(data_dir=data_dir, store=store, policy_engine=policy_engine)
    configure(settings.log_format)
    the_store = open_store(settings.store, **settings.store_options())
    engine = open_engine(settings.policy_engine, url=settings.opa_url,
                         timeout=settings.gate_timeout_seconds)
    _, worker = erasure.from_settings(settings, the_store, engine)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    click.echo(f"erasure worker {worker.id} on the {settings.store} store", err=True)
    worker.run(stop)
    the_store.close()
