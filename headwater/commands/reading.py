"""Commands that read lineage and impact from a server."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from headwater.catalog.ids import unescape
from headwater.commands.options import dataset_readings, pairs, split_dataset, url_option


@click.command("lineage")
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
    # The root is the node at depth 0: the id typed may be another spelling of its id.
    root = next(n["id"] for n in graph["nodes"] if n["depth"] == 0)
    click.echo(render_tree(graph, root, direction.upper()))


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


IMPACT_LOOKUP, IMPACT_UNREACHABLE, IMPACT_REFUSED = 2, 3, 4  # and 1: breaking, 2: usage too
IMPACT_QUERY = """query($change: SchemaChangeInput!, $first: Int!, $offset: Int!) {
  impactAnalysis(change: $change) { breaking findings totals { fields datasets jobs checks }
  affectedFields(first: $first, offset: $offset) { namespace name field depth path }
  affectedDatasets(first: $first, offset: $offset) { namespace name depth owners }
  affectedJobs(first: $first, offset: $offset) { namespace name }
  affectedChecks(first: $first, offset: $offset) {
    namespace name field assertion source lastSuccess } } }"""
IMPACT_LISTS = {"affectedFields": "fields", "affectedDatasets": "datasets",
                "affectedJobs": "jobs", "affectedChecks": "checks"}
WHOLE_PAGE = 5_000  # rows per list per query when fetching everything (within the cost limit)


def impact_report(client: Any, change: dict[str, Any], limit: int) -> dict[str, Any]:
    """The report with the nearest ``limit`` rows of each list and the totals; ``limit`` 0:
    every row, page after page (the server's order is stable, so pages join up)."""
    first = limit or WHOLE_PAGE
    report: dict[str, Any] = client.graphql(
        IMPACT_QUERY, {"change": change, "first": first, "offset": 0})["impactAnalysis"]
    offset = first
    while not limit and any(len(report[k]) < report["totals"][t] for k, t in IMPACT_LISTS.items()):
        more = client.graphql(IMPACT_QUERY, {"change": change, "first": first,
                                             "offset": offset})["impactAnalysis"]
        if not any(more[k] for k in IMPACT_LISTS):
            break  # the catalog changed between pages: what was read stands
        for k in IMPACT_LISTS:
            report[k] += more[k]
        offset += first
    return report


def _one_dataset(client: Any, target: str) -> tuple[str, str]:
    """The dataset ``NS:NAME`` names; when it reads two ways that both exist (``col:a:b``:
    ``col:a`` + ``b`` and ``col`` + ``a:b``), a usage error naming both, never a guess."""
    namespaces = client.graphql("{ namespaces }")["namespaces"]
    readings = dataset_readings(target, namespaces)
    if len(readings) > 1:
        query = "query(" + ", ".join(f"$n{i}: String!, $s{i}: String!"
                                     for i in range(len(readings))) + ") { " + " ".join(
            f"d{i}: dataset(namespace: $n{i}, name: $s{i}) {{ id }}"
            for i in range(len(readings))) + " }"
        found = client.graphql(query, {k: v for i, (ns, name) in enumerate(readings)
                                       for k, v in ((f"n{i}", ns), (f"s{i}", name))})
        existing = [r for i, r in enumerate(readings) if found[f"d{i}"]]
        if len(existing) > 1:
            click.echo(f"Error: {target!r} names {len(existing)} datasets: " + "; ".join(
                f"namespace {ns!r}, name {name!r}" for ns, name in existing)
                + ". Ask GraphQL impactAnalysis with the namespace and name of the one you"
                " mean.", err=True)
            sys.exit(IMPACT_LOOKUP)
        if existing:
            return existing[0]
    return split_dataset(target, namespaces)


@click.command()
@click.option("--dataset", "target", required=True, help="NS:NAME of the dataset that changes.")
@click.option("--drop-field", multiple=True)
@click.option("--rename-field", multiple=True, help="OLD=NEW")
@click.option("--change-type", multiple=True, help="FIELD=NEWTYPE")
@click.option("--drop-dataset", is_flag=True)
@click.option("--fail-on-breaking", is_flag=True,
              help="Exit 1 when the change is breaking. Other exit codes: 2 the dataset, a field "
              "or an option is wrong; 3 the server cannot be reached; 4 the server refused "
              "(token, role) or failed.")
@click.option("--json", "as_json", is_flag=True, help="The whole report as JSON (every row).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=0, max=5_000),
              help="Rows per table in the readable report, the nearest first (0: all).")
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
            ns, name = _one_dataset(client, target)
            change = {"namespace": ns, "name": name, "dropFields": list(drop_field),
                      "renameFields": [{"from": a, "to": b}
                                       for a, b in pairs(rename_field, "--rename-field")],
                      "changeTypes": [{"field": a, "to": b}
                                      for a, b in pairs(change_type, "--change-type")],
                      "dropDataset": drop_dataset}
            report = impact_report(client, change, 0 if as_json else limit)
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
        fields, datasets, jobs, checks = (report[k] for k in IMPACT_LISTS)
        totals = report["totals"]
        console.print(f"Impact of changing {ns} {name}: {verdict} ({totals['datasets']} datasets, "
                      f"{totals['fields']} fields, {totals['jobs']} jobs downstream, "
                      f"{totals['checks']} checks)")

        def shown(rows: list[Any], what: str) -> list[Any]:
            if len(rows) < totals[what]:
                console.print(f"{what}: the nearest {len(rows)} of {totals[what]} (--limit 0 for "
                              "all, --json for machines)")
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
                              " → ".join(unescape(p.rsplit(":", 1)[1]) for p in f["path"]))
            console.print(table)
        for j in shown(jobs, "jobs"):
            console.print(f"job {j['namespace']} {j['name']}")
        if checks:
            table = Table("check", "on", "source", "last result")
            for c in shown(checks, "checks"):
                last = {True: "passed", False: "failed", None: "-"}[c["lastSuccess"]]
                table.add_row(c["assertion"], f"{c['namespace']} {c['name']}"
                              + (f".{c['field']}" if c["field"] else ""), c["source"], last)
            console.print(table)
        for finding in report["findings"]:
            console.print(f"• {finding}")
    if fail_on_breaking and report["breaking"]:
        sys.exit(1)
