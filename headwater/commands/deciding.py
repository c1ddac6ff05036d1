"""``headwater gate check``: ask the policy gate before a run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from headwater.commands.options import split_dataset, url_option


@click.group()
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
