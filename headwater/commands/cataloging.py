"""Search the catalog and a steward's edits from the shell, over the API.

Exit codes follow ``impact``'s: 0 done; 1 the verdict (``search``: nothing matched, as grep);
2 a wrong argument or an unknown dataset or field; 3 the server cannot be reached; 4 the
server refused (token, role) or failed.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from headwater.commands.options import split_dataset, url_option

NOTHING, LOOKUP, UNREACHABLE, REFUSED = 1, 2, 3, 4
_REFUSALS = {"FORBIDDEN", "UNAUTHENTICATED", "UNAVAILABLE", "INTERNAL_SERVER_ERROR"}

SEARCH_QUERY = """query($q: String!, $types: [SearchType!], $first: Int!) {
  search(query: $q, types: $types, first: $first) {
    totalCount edges { node { type id namespace name field matched highlight score } } } }"""
DATASET = "id namespace name tags retentionDays classifications"


def _code(exc: Any) -> int:
    if exc.unreachable:
        return UNREACHABLE
    if exc.graphql:
        codes = {(e.get("extensions") or {}).get("code") for e in exc.errors}
        return REFUSED if codes & _REFUSALS else LOOKUP
    return LOOKUP if exc.status in (400, 404, 409, 413, 422) else REFUSED


@contextmanager
def _client(url: str) -> Iterator[Any]:
    """A client whose errors exit with their documented code, the message on stderr."""
    from headwater.client import Client, HeadwaterError

    try:
        with Client(url) as client:
            yield client
    except HeadwaterError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(_code(exc))
    except click.BadParameter as exc:
        click.echo(f"Error: {exc.format_message()}", err=True)
        sys.exit(LOOKUP)


def _plain(highlight: str) -> str:
    """A highlight for a terminal: marks as brackets, entities decoded."""
    import html

    return html.unescape(highlight.replace("<mark>", "[").replace("</mark>", "]"))


@click.command()
@click.argument("text")
@click.option("--type", "types", multiple=True,
              type=click.Choice(["dataset", "field", "job"], case_sensitive=False),
              help="Only these kinds of hit (repeatable).")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 100))
@click.option("--json", "as_json", is_flag=True, help="The hits as JSON.")
@url_option
def search(text: str, types: tuple[str, ...], limit: int, as_json: bool, url: str) -> None:
    """Search datasets, fields and jobs by name, field, tag, owner, classification or
    description, best first. Exits 1 when nothing matches; 2 a bad query; 3 the server cannot
    be reached; 4 the server refused."""
    with _client(url) as client:
        found = client.graphql(SEARCH_QUERY, {
            "q": text, "types": [t.upper() for t in types] or None, "first": limit})["search"]
    hits = [e["node"] for e in found["edges"]]
    if as_json:
        click.echo(json.dumps({"totalCount": found["totalCount"], "hits": hits}, indent=2))
    else:
        for h in hits:
            where = f"{h['name']}.{h['field']}" if h["field"] else h["name"]
            click.echo(f"{h['type'].lower():8} {h['namespace']} {where}"
                       f"  ({h['matched']}: {_plain(h['highlight'])})")
        if found["totalCount"] > len(hits):
            click.echo(f"… {len(hits)} of {found['totalCount']}: narrow the query or raise"
                       " --limit", err=True)
    if not hits:
        click.echo(f"nothing matches {text!r}", err=True)
        sys.exit(NOTHING)


def _edit(url: str, target: str, mutation: str, args: str, variables: dict[str, Any],
          as_json: bool, shown: str = DATASET) -> None:
    with _client(url) as client:
        ns, name = split_dataset(target, client.graphql("{ namespaces }")["namespaces"])
        field = mutation
        answer = client.graphql(
            f"mutation($ns: String!, $name: String!{args}) {{ {field}(namespace: $ns,"
            f" name: $name{', ' + ', '.join(f'{k}: ${k}' for k in variables)}) {{ {shown} }} }}",
            {"ns": ns, "name": name, **variables})[mutation]
    if as_json:
        click.echo(json.dumps(answer, indent=2))
        return
    for key, value in answer.items():
        if key in ("namespace", "name"):
            continue
        shown_value = ", ".join(value) if isinstance(value, list) else value
        click.echo(f"{key}: {'-' if shown_value in (None, '') else shown_value}")


_json = click.option("--json", "as_json", is_flag=True, help="The edited object as JSON.")
_EXITS = (" Exits 2 for an unknown dataset or a bad argument, 3 when the server cannot be"
          " reached, 4 when it refused (a steward token is needed).")


@click.command()
@click.argument("dataset")
@click.argument("field")
@click.argument("classes", nargs=-1)
@_json
@url_option
def classify(dataset: str, field: str, classes: tuple[str, ...], as_json: bool,
             url: str) -> None:
    """Set the steward classifications of FIELD of DATASET (NS:NAME): CLASS… replaces them
    (none: clears them; tag-derived ones stay)."""
    _edit(url, dataset, "classifyField", ", $field: String!, $classifications: [String!]!",
          {"field": field, "classifications": list(classes)}, as_json,
          shown="name classifications inheritedClassifications")


classify.help = (classify.help or "") + _EXITS


@click.command()
@click.argument("dataset")
@click.argument("tags", nargs=-1, required=True)
@_json
@url_option
def tag(dataset: str, tags: tuple[str, ...], as_json: bool, url: str) -> None:
    """Add TAG… to DATASET (NS:NAME)."""
    _edit(url, dataset, "tagDataset", ", $tags: [String!]!", {"tags": list(tags)}, as_json)


@click.command()
@click.argument("dataset")
@click.argument("tags", nargs=-1, required=True)
@_json
@url_option
def untag(dataset: str, tags: tuple[str, ...], as_json: bool, url: str) -> None:
    """Remove TAG… from DATASET (NS:NAME)."""
    _edit(url, dataset, "untagDataset", ", $tags: [String!]!", {"tags": list(tags)}, as_json)


@click.command()
@click.argument("dataset")
@click.argument("days", type=click.IntRange(min=0))
@_json
@url_option
def retention(dataset: str, days: int, as_json: bool, url: str) -> None:
    """Keep DATASET's (NS:NAME) data DAYS days."""
    _edit(url, dataset, "setRetention", ", $days: Int!", {"days": days}, as_json)


for _command in (tag, untag, retention):
    _command.help = (_command.help or "") + _EXITS
