"""Commands that send events and quality results to a server."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from headwater.commands.options import pairs, url_option


@click.command()
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
    totals = {"created": 0, "duplicate": 0, "invalid": 0}  # "conflict" too, when there are
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
                totals[r["status"]] = totals.get(r["status"], 0) + 1
                for e in r.get("errors", []):
                    problems.append(f"event {start + r['index']}: {e['pointer']}: {e['message']}")
            progress.advance(task, len(chunk))
    for p in problems[:50]:
        click.echo(p, err=True)
    click.echo(json.dumps(totals))
    sys.exit(1 if totals["invalid"] or totals.get("conflict") else 0)


@click.group()
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

    mapping = dict(pairs(maps, "--dataset-map"))
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
