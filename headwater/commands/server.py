"""Commands run where the store is: the server, tokens, migrations, the policy bundle."""

from __future__ import annotations

import errno
import ipaddress
import socket
import sys
from pathlib import Path
from typing import Any

import click

from headwater.settings import Settings


def _loopback(host: str) -> bool:
    try:
        return all(ipaddress.ip_address(a[4][0]).is_loopback
                   for a in socket.getaddrinfo(host, None))
    except (socket.gaierror, ValueError):
        return False


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


@click.command()
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
    from headwater.catalog import SchemaTooNew, StoreError
    from headwater.logs import configure

    settings = Settings.load(host=host, port=port, store=store, policy_engine=policy_engine,
                             data_dir=data_dir, auth=False if no_auth else None)
    if not settings.auth and not _loopback(settings.host):
        raise click.UsageError(f"--no-auth is only allowed on loopback, not on {settings.host}")
    sock = _bind(settings.host, settings.port)
    configure(settings.log_format)
    try:
        app = create_app(settings, only=only)
    except SchemaTooNew as exc:  # a newer release's store: refuse, touch nothing
        sock.close()
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except StoreError as exc:
        sock.close()
        raise click.ClickException(str(exc)) from None
    _banner(settings, only, app)
    # A thread that gave the GIL up (a SQLite step, a socket) waits up to this long to get it
    # back from one that computes: 1 ms instead of Python's 5 keeps light requests beside heavy
    # GraphQL reads ~3x quicker at the median, for a few more switches a second.
    sys.setswitchinterval(0.001)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning",
                            access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


@click.group()
def token() -> None:
    """Manage API tokens (run on the server's machine: it writes to the store directly).

    A token's name is what decision logs, audits and GraphQL show as the principal."""


def _said(exc: Exception) -> str:
    from headwater.catalog.errors import Invalid

    if isinstance(exc, Invalid) and exc.errors:
        return "; ".join(e["message"] for e in exc.errors)
    return str(exc)


def _token_store() -> Any:
    from headwater.catalog import open_store

    settings = Settings.load()
    return open_store(settings.store, **settings.store_options())


@token.command("create")
@click.option("--role", type=click.Choice(["viewer", "producer", "steward", "admin"]),
              required=True)
@click.option("--name", default=None,
              help="A unique name to recognise the token by [<role>-<6 hex digits>].")
@click.option("--expires", default=None, metavar="DURATION",
              help="Refuse the token after this long: 30m, 12h, 90d, 2w [never].")
@click.option("--environment", default=None,
              help="Bind the token to an environment: its gate calls run in it, and only such "
                   "tokens may fail open (HEADWATER_GATE_FAIL_OPEN_ENVIRONMENTS).")
def token_create(role: str, name: str | None, expires: str | None,
                 environment: str | None) -> None:
    """Print one new token on stdout (the only time it is shown)."""
    from headwater.catalog.errors import HeadwaterError
    from headwater.catalog.tokens import create_token, parse_lifetime

    store = _token_store()
    try:
        lifetime = parse_lifetime(expires) if expires else None
        click.echo(create_token(store, role, name, lifetime, environment))
    except HeadwaterError as exc:
        raise click.ClickException(_said(exc)) from None
    finally:
        store.close()


@token.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per token.")
def token_list(as_json: bool) -> None:
    """Every token: name, role, environment, created, last used (to the minute), expiry and
    status. Never the token or its hash."""
    import orjson

    from headwater.catalog.tokens import list_tokens, status

    store = _token_store()
    try:
        records = list_tokens(store)
    finally:
        store.close()
    if as_json:
        for r in records:
            click.echo(orjson.dumps({
                "name": r.name, "role": r.role, "environment": r.environment,
                "createdAt": r.created_at, "lastUsedAt": r.last_used_at,
                "expiresAt": r.expires_at, "revokedAt": r.revoked_at,
                "status": status(r)}).decode())
        return
    rows = [("NAME", "ROLE", "ENVIRONMENT", "CREATED", "LAST USED", "EXPIRES", "STATUS")]
    rows += [(r.name, r.role, r.environment or "-", r.created_at[:16], (r.last_used_at or
              "never")[:16], (r.expires_at or "never")[:16], status(r)) for r in records]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


@token.command("revoke")
@click.argument("name")
def token_revoke(name: str) -> None:
    """Revoke the token called NAME: every server sharing the store refuses it within a
    second. It stays listed, as revoked."""
    from headwater.catalog.errors import HeadwaterError
    from headwater.catalog.tokens import revoke_token

    store = _token_store()
    try:
        revoke_token(store, name)
    except HeadwaterError as exc:
        raise click.ClickException(_said(exc)) from None
    finally:
        store.close()
    click.echo(f"revoked {name}", err=True)


@click.command()
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


@click.group()
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
