"""The ``headwater`` command."""

from __future__ import annotations

import errno
import ipaddress
import json
import socket
import sys
from pathlib import Path
from typing import Any

import click

from headwater.settings import Settings

url_option = click.option("--url", envvar="HEADWATER_URL", default="http://127.0.0.1:5000",
                          show_default=True, help="Headwater server.")


def _loopback(host: str) -> bool:
    try:
        return all(ipaddress.ip_address(a[4][0]).is_loopback
                   for a in socket.getaddrinfo(host, None))
    except (socket.gaierror, ValueError):
        return False


@click.group()
@click.version_option(package_name="headwater")
def main() -> None:
    """Headwater: OpenLineage lineage, governance and GDPR erasure."""


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything is printed, as uvicorn would bind it: a
    port in use is a plain error naming the settings to change, not a traceback after the
    banner."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        taken = exc.errno == errno.EADDRINUSE
        click.echo(f"error: port {port} on {host} is already in use (another Headwater?)" if taken
                   else f"error: cannot listen on {host}:{port}: {exc.strerror or exc}", err=True)
        if taken:
            click.echo(f"  choose another port: headwater serve --port {port + 1}, "
                       f"make run PORT={port + 1}, or HEADWATER_PORT={port + 1}", err=True)
        sys.exit(1)
    sock.set_inheritable(True)
    return sock


def _banner(settings: Settings, only: str | None, app: Any) -> None:
    where = f"http://{settings.host}:{settings.port}"
    engine = app.state.engine
    policy = (f"OPA at {engine.url}" if engine.kind == "opa"
              else f"embedded, {engine.evaluator}")
    serves = {None: "", "ingestion": "ingestion only, ", "api": "queries only, "}[only]
    click.echo(f"Headwater on {where}  ({serves}store: {settings.store}, policy: {policy}, "
               f"data: {settings.data_dir})", err=True)
    if only != "ingestion":
        click.echo(f"  GraphQL/GraphiQL: {where}/graphql   REST: {where}/api/v1/…", err=True)
    if only != "api":
        click.echo(f"  OpenLineage: {where}/api/v1/lineage", err=True)
    if only == "ingestion":
        click.echo("  Queries (GraphQL, lineage, gate, erasure) go to the --only api server"
                   + (f" at {settings.api_url}" if settings.api_url else ""), err=True)
    if only == "api":
        click.echo("  Events go to the --only ingestion server"
                   + (f" at {settings.ingestion_url}" if settings.ingestion_url else ""), err=True)
    if settings.auth:
        role = "viewer" if only == "api" else "producer"
        click.echo(f"  Get a token: headwater token create --role {role}", err=True)


@main.command()
@click.option("--host", default=None, help="Bind address [127.0.0.1; HEADWATER_HOST].")
@click.option("--port", type=int, default=None, help="Port [5000; HEADWATER_PORT].")
@click.option("--store", type=click.Choice(["embedded", "neo4j"]), default=None)
@click.option("--policy-engine", type=click.Choice(["embedded", "opa"]), default=None)
@click.option("--only", type=click.Choice(["ingestion", "api"]), default=None,
              help="Serve only ingestion or only the query API.")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None)
@click.option("--no-auth", is_flag=True, help="No tokens needed (loopback only, for local play).")
def serve(host: str | None, port: int | None, store: str | None, policy_engine: str | None,
          only: str | None, data_dir: Path | None, no_auth: bool) -> None:
    """Run the service (ingestion, REST and GraphQL on one port)."""
    import uvicorn

    from headwater.app import create_app
    from headwater.logs import configure

    settings = Settings.load(host=host, port=port, store=store, policy_engine=policy_engine,
                             data_dir=data_dir, auth=False if no_auth else None)
    if not settings.auth and not _loopback(settings.host):
        raise click.UsageError(f"--no-auth is only allowed on loopback, not on {settings.host}")
    sock = _bind(settings.host, settings.port)
    configure(settings.log_format)
    app = create_app(settings, only=only)
    _banner(settings, only, app)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning",
                            access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


@main.group()
def token() -> None:
    """Manage API tokens (run on the server's machine: it writes to the store directly)."""


@token.command("create")
@click.option("--role", type=click.Choice(["viewer", "producer", "steward", "admin"]),
              required=True)
@click.option("--name", default=None, help="A label to recognise the token by.")
def token_create(role: str, name: str | None) -> None:
    """Print one new token on stdout."""
    from headwater.catalog import open_store
    from headwater.catalog.tokens import create_token

    settings = Settings.load()
    store = open_store(settings.store, **settings.store_options())
    try:
        click.echo(create_token(store, role, name))
    finally:
        store.close()


@main.command()
@click.option("--store", type=click.Choice(["embedded", "neo4j"]), default=None,
              help="The store to migrate [the configured one].")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None,
              help="The embedded store's data directory [the configured one].")
def migrate(store: str | None, data_dir: Path | None) -> None:
    """Bring the store's schema up to this release's, printing each step.

    The server does the same at start; this runs it alone, to upgrade a store before starting
    servers on it or to see where it stands. Exit 0 when the schema is current, 2 when the store
    was written by a newer Headwater (nothing is changed: upgrade Headwater), 1 on any other
    error.
    """
    from headwater.catalog import SchemaTooNew, StoreError, open_store

    settings = Settings.load(store=store, data_dir=data_dir)
    where = (f"embedded store at {settings.store_options()['path']}" if settings.store == "embedded"
             else f"neo4j store at {settings.neo4j_uri}")
    try:
        the_store = open_store(settings.store, migrate=False, **settings.store_options())
        try:
            before = the_store.schema_version()
            click.echo(f"{where}: schema version {before}")
            done = the_store.migrate()
            after = the_store.schema_version()
        finally:
            the_store.close()
    except SchemaTooNew as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    for step in done:
        click.echo(f"  applied {step}")
    click.echo(f"migrated from schema version {before} to {after}" if done
               else f"up to date at schema version {after}")


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False,
                                                                    path_type=Path))
@url_option
@click.option("--batch-size", default=500, show_default=True)
def ingest(files: tuple[Path, ...], url: str, batch_size: int) -> None:
    """Send OpenLineage events from JSON (one event or an array) or NDJSON files."""
    import orjson
    from rich.progress import Progress

    from headwater.client import Client, HeadwaterError
    from headwater.ingestion.intake import InvalidEvent, parse_many

    events: list[object] = []
    for path in files:
        try:
            events += parse_many(path.read_bytes())
        except InvalidEvent as exc:
            raise click.ClickException(f"{path}: {exc}") from None
    totals = {"created": 0, "duplicate": 0, "invalid": 0}
    problems: list[str] = []
    with Client(url) as client, Progress(console=None, transient=False) as progress:
        task = progress.add_task("ingesting", total=len(events))
        for start in range(0, len(events), batch_size):
            chunk = events[start : start + batch_size]
            try:
                answer = client.send_batch(orjson.dumps(chunk))
            except HeadwaterError as exc:
                raise click.ClickException(str(exc)) from None
            for r in answer["results"]:
                totals[r["status"]] += 1
                for e in r.get("errors", []):
                    problems.append(f"event {start + r['index']}: {e['pointer']}: {e['message']}")
            progress.advance(task, len(chunk))
    for p in problems[:50]:
        click.echo(p, err=True)
    click.echo(json.dumps(totals))
    sys.exit(1 if totals["invalid"] else 0)


@main.command("lineage")
@click.argument("node_id")
@click.option("--direction", type=click.Choice(["upstream", "downstream", "both"],
                                               case_sensitive=False), default="both")
@click.option("--depth", type=int, default=5, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the graph as JSON.")
@url_option
def lineage_cmd(node_id: str, direction: str, depth: int, as_json: bool, url: str) -> None:
    """Print the lineage graph around NODE_ID (dataset:NS:NAME, job:NS:NAME or a field id)."""
    from headwater.client import Client, HeadwaterError

    query = """query($id: ID!, $dir: Direction!, $depth: Int!) {
      lineage(nodeId: $id, direction: $dir, depth: $depth) {
        nodes { id type namespace name field depth } edges { source target transformation }
        truncated } }"""
    try:
        with Client(url) as client:
            graph = client.graphql(query, {"id": node_id, "dir": direction.upper(),
                                           "depth": depth})["lineage"]
    except HeadwaterError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(graph, indent=2))
        return
    if not graph["nodes"]:
        raise click.ClickException(f"no node {node_id!r} in the lineage graph")
    click.echo(render_tree(graph, node_id, direction.upper()))


def render_tree(graph: dict, root: str, direction: str) -> str:
    """An indented tree from the root: downstream below '↓', upstream below '↑'. A node met
    again (a diamond, a cycle) is printed once more with '(see above)' and not expanded."""
    label = {n["id"]: f"{n['type'].lower()} {n['namespace']} {n['name']}"
             + (f".{n['field']}" if n.get("field") else "") for n in graph["nodes"]}
    down: dict[str, list[tuple[str, str | None]]] = {}
    up: dict[str, list[tuple[str, str | None]]] = {}
    for e in graph["edges"]:
        down.setdefault(e["source"], []).append((e["target"], e.get("transformation")))
        up.setdefault(e["target"], []).append((e["source"], e.get("transformation")))
    lines = [label[root]]

    def walk(node: str, adjacency: dict, prefix: str, seen: set[str]) -> None:
        children = sorted(adjacency.get(node, []))
        for i, (child, how) in enumerate(children):
            last = i == len(children) - 1
            note = f" [{how}]" if how else ""
            again = child in seen
            lines.append(f"{prefix}{'└── ' if last else '├── '}{label[child]}{note}"
                         + (" (see above)" if again else ""))
            if not again:
                walk(child, adjacency, prefix + ("    " if last else "│   "), seen | {child})

    for name, adjacency in (("↑ upstream", up), ("↓ downstream", down)):
        if direction in (name.split()[1].upper(), "BOTH") and adjacency.get(root):
            lines.append(name)
            walk(root, adjacency, "", {root})
    if graph["truncated"]:
        lines.append("… truncated: raise --depth to see more")
    return "\n".join(lines)


def split_dataset(value: str, namespaces: list[str], lenient: bool = False) -> tuple[str, str]:
    """``NS:NAME`` split at the last colon that leaves a known namespace (namespaces contain
    colons: ``postgres://db:5432:shop.public.orders``); ``lenient``: else at the last colon."""
    known = sorted((ns for ns in namespaces if value.startswith(ns + ":")), key=len, reverse=True)
    if known:
        return known[0], value[len(known[0]) + 1:]
    if lenient and ":" in value.strip(":"):
        ns, _, name = value.rpartition(":")
        return ns, name
    raise click.BadParameter(f"{value!r} does not start with a known namespace and ':'; known "
                             f"namespaces: {', '.join(namespaces) or 'none yet'}")


def _pairs(values: tuple[str, ...], option: str) -> list[tuple[str, str]]:
    out = []
    for v in values:
        a, sep, b = v.partition("=")
        if not sep or not a or not b:
            raise click.BadParameter(f"{option} wants A=B, got {v!r}")
        out.append((a, b))
    return out


IMPACT_LOOKUP, IMPACT_UNREACHABLE, IMPACT_REFUSED = 2, 3, 4  # and 1: breaking, 2: usage too
IMPACT_QUERY = """query($change: SchemaChangeInput!) { impactAnalysis(change: $change) {
  breaking findings
  affectedFields { namespace name field depth path }
  affectedDatasets { namespace name depth owners }
  affectedJobs { namespace name } } }"""


@main.command()
@click.option("--dataset", "target", required=True, help="NS:NAME of the dataset that changes.")
@click.option("--drop-field", multiple=True)
@click.option("--rename-field", multiple=True, help="OLD=NEW")
@click.option("--change-type", multiple=True, help="FIELD=NEWTYPE")
@click.option("--drop-dataset", is_flag=True)
@click.option("--fail-on-breaking", is_flag=True,
              help="Exit 1 when the change is breaking. Other exit codes: 2 the dataset, a field "
              "or an option is wrong; 3 the server cannot be reached; 4 the server refused "
              "(token, role) or failed.")
@click.option("--json", "as_json", is_flag=True, help="The whole report as JSON.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=0),
              help="Rows per table in the readable report (0: all).")
@url_option
def impact(target: str, drop_field: tuple[str, ...], rename_field: tuple[str, ...],
           change_type: tuple[str, ...], drop_dataset: bool, fail_on_breaking: bool,
           as_json: bool, limit: int, url: str) -> None:
    """What breaks downstream if this schema change ships (for CI before a migration)."""
    from rich.console import Console
    from rich.table import Table

    from headwater.client import Client, HeadwaterError

    try:
        with Client(url) as client:
            ns, name = split_dataset(target, client.graphql("{ namespaces }")["namespaces"])
            change = {"namespace": ns, "name": name, "dropFields": list(drop_field),
                      "renameFields": [{"from": a, "to": b}
                                       for a, b in _pairs(rename_field, "--rename-field")],
                      "changeTypes": [{"field": a, "to": b}
                                      for a, b in _pairs(change_type, "--change-type")],
                      "dropDataset": drop_dataset}
            report = client.graphql(IMPACT_QUERY, {"change": change})["impactAnalysis"]
    except HeadwaterError as exc:
        # 1 means "breaking" to CI: an error must never look like a verdict.
        click.echo(f"Error: {exc}", err=True)
        sys.exit(IMPACT_UNREACHABLE if exc.unreachable
                 else IMPACT_LOOKUP if exc.graphql or exc.status in (400, 404, 422)
                 else IMPACT_REFUSED)
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        console = Console()
        verdict = "[bold red]BREAKING[/]" if report["breaking"] else "[bold green]safe[/]"
        datasets, fields, jobs = (report["affectedDatasets"], report["affectedFields"],
                                  report["affectedJobs"])
        console.print(f"Impact of changing {ns} {name}: {verdict} ({len(datasets)} datasets, "
                      f"{len(fields)} fields, {len(jobs)} jobs downstream)")

        def shown(rows: list[Any], what: str) -> list[Any]:
            if limit and len(rows) > limit:
                console.print(f"{what}: the nearest {limit} of {len(rows)} (--limit 0 for all, "
                              "--json for machines)")
                return rows[:limit]
            return rows
        if datasets:
            table = Table("depth", "dataset", "owners")
            for d in shown(datasets, "datasets"):
                table.add_row(str(d["depth"]), f"{d['namespace']} {d['name']}",
                              ", ".join(d["owners"]) or "-")
            console.print(table)
        if fields:
            table = Table("depth", "field", "via")
            for f in shown(fields, "fields"):
                table.add_row(str(f["depth"]), f"{f['namespace']} {f['name']}.{f['field']}",
                              " → ".join(p.rsplit(":", 1)[1] for p in f["path"]))
            console.print(table)
        for j in shown(jobs, "jobs"):
            console.print(f"job {j['namespace']} {j['name']}")
        for finding in report["findings"]:
            console.print(f"• {finding}")
    if fail_on_breaking and report["breaking"]:
        sys.exit(1)


@main.group()
def gate() -> None:
    """Ask the policy gate before a run."""


GATE_EXIT = {"allow": 0, "mask": 3, "deny": 2}


@gate.command("check")
@click.option("--event", "event_file", type=click.Path(exists=True, dir_okay=False,
                                                       path_type=Path),
              help="An OpenLineage START event (JSON) describing the planned run.")
@click.option("--job", "job_ref", help="NS:NAME of the job (instead of --event).")
@click.option("--input", "inputs", multiple=True, help="NS:NAME of an input dataset.")
@click.option("--output", "outputs", multiple=True, help="NS:NAME of an output dataset.")
@click.option("--purpose", help="Why the run processes data.")
@click.option("--environment", help="dev, prod, … (some environments may fail open).")
@click.option("--json", "as_json", is_flag=True)
@url_option
def gate_check(event_file: Path | None, job_ref: str | None, inputs: tuple[str, ...],
               outputs: tuple[str, ...], purpose: str | None, environment: str | None,
               as_json: bool, url: str) -> None:
    """Exit 0 allow, 3 mask (directives printed), 2 deny (reasons printed), 1 error."""
    from headwater.client import Client, HeadwaterError

    try:
        with Client(url) as client:
            if event_file is not None:
                decision = client.gate(event=json.loads(event_file.read_text()), purpose=purpose,
                                       environment=environment)
            elif job_ref:
                known = client.graphql("{ namespaces }")["namespaces"]
                decision = client.gate(
                    split_dataset(job_ref, known, lenient=True),
                    [split_dataset(i, known, lenient=True) for i in inputs],
                    [split_dataset(o, known, lenient=True) for o in outputs],
                    purpose=purpose, environment=environment)
            else:
                raise click.UsageError("give --event FILE, or --job with --input/--output")
    except (HeadwaterError, ValueError, click.BadParameter) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps({"decision": decision.decision, "reasons": decision.reasons,
                               "masks": decision.masks, "decisionId": decision.decision_id}))
    else:
        click.echo(f"{decision.decision.upper()}  (decision {decision.decision_id})")
        for m in decision.masks:
            click.echo(f"  mask {m['dataset']} {m['field']} with {m['strategy']}")
        for r in decision.reasons:
            click.echo(f"  {r.get('severity', 'deny')}: [{r['rule']}] {r['message']}")
    sys.exit(GATE_EXIT[decision.decision])


@main.group()
def policy() -> None:
    """The policy bundle (policies/rego)."""


@policy.command("compile")
@click.option("--opa", "opa", default="opa", show_default=True, help="The opa binary to use.")
def policy_compile(opa: str) -> None:
    """Compile the bundle to Wasm for the embedded engine (after editing a .rego module)."""
    import shutil

    from headwater.policies.engine import write_compiled
    from headwater.policies.wasm import WasmPolicyError

    binary = shutil.which(opa)
    if binary is None:
        click.echo(f"error: no opa binary at {opa!r}: install OPA "
                   "(https://www.openpolicyagent.org/docs#running-opa) or pass --opa PATH",
                   err=True)
        sys.exit(1)
    try:
        click.echo(f"wrote {write_compiled(binary)}")
    except WasmPolicyError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


@main.group()
def quality() -> None:
    """Data-quality results from outside OpenLineage."""


@quality.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False,
                                                                    path_type=Path))
@click.option("--dataset-map", "maps", multiple=True,
              help="ASSET=NAMESPACE|NAME (ASSET: 'datasource/asset' or 'asset').")
@click.option("--run-id", help="The OpenLineage run these validations belong to.")
@url_option
def quality_import(files: tuple[Path, ...], maps: tuple[str, ...], run_id: str | None,
                   url: str) -> None:
    """Import Great Expectations validation results (JSON) already on disk."""
    from headwater.client import Client, HeadwaterError
    from headwater.ingestion.great_expectations import quality_results

    mapping = dict(_pairs(maps, "--dataset-map"))
    results = []
    for path in files:
        try:
            results += quality_results(json.loads(path.read_text()), mapping, run_id)
        except ValueError as exc:
            raise click.ClickException(f"{path}: not a JSON file: {exc}") from None
    if not results:
        raise click.ClickException("no expectation results found: expected GE validation "
                                   "results (or a checkpoint result) as JSON")
    try:
        with Client(url) as client:
            answer = client.send_quality(results, source="great_expectations")
    except HeadwaterError as exc:
        raise click.ClickException(str(exc)) from None
    failed = sum(not r["success"] for r in results)
    click.echo(json.dumps({**answer, "failed": failed, "total": len(results)}))


@main.group()
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
    pairs = _pairs(identifiers, "--id")
    req = _client_call(url, lambda c: c.file_erasure(pairs, jurisdiction, reason))
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
    """The request's audit trail, oldest first."""
    from rich.console import Console
    from rich.table import Table

    entries = _client_call(url, lambda c: c.erasure_audit(request_id))
    if as_json:
        click.echo(json.dumps(entries))
        return
    table = Table("#", "at", "actor", "event", "details")
    skip = {"seq", "at", "actor", "event", "requestId", "prev", "hash"}
    for e in entries:
        details = ", ".join(f"{k}={json.dumps(v)}" for k, v in e.items() if k not in skip)
        table.add_row(str(e["seq"]), e["at"], e["actor"], e["event"], details)
    Console(width=200).print(table)


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
    from headwater.settings import Settings

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
