"""Rules that do not depend on the backend, written once: time format, run-state merge,
retention and purpose tag conventions, classification coverage, transformation labels and
content ids (the schema history is ``catalog.schema_history``). Both stores call these;
neither re-implements them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from headwater.catalog.ids import digest
from headwater.catalog.model import ClassifiedFields, FieldRecord

# Run states as the API names them; TERMINAL ones never regress to RUNNING.
RUN_STATES = ("NEW", "RUNNING", "COMPLETED", "FAILED", "ABORTED", "OTHER")
TERMINAL_STATES = frozenset({"COMPLETED", "FAILED", "ABORTED"})
EVENT_TYPE_STATE = {
    "START": "RUNNING",
    "RUNNING": "RUNNING",
    "COMPLETE": "COMPLETED",
    "FAIL": "FAILED",
    "ABORT": "ABORTED",
    "OTHER": "OTHER",
}

CLASSIFICATION = r"^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*$"


# ---------------------------------------------------------------- time


def utc_text(t: datetime) -> str:
    """The one stored time format: ISO-8601 UTC with microseconds, so both backends compare
    times as strings and order them correctly. A naive time is taken as UTC."""
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC).isoformat(
        timespec="microseconds")


def now() -> str:
    return utc_text(datetime.now(UTC))


# ---------------------------------------------------------------- runs


def state_wins(new: str | None, new_time: str, old: str | None, old_time: str | None) -> bool:
    """Whether an incoming run state replaces the stored one, whatever order events arrive in.

    A terminal state beats any non-terminal one and the latest terminal event wins among
    terminal ones; a non-terminal state never replaces a terminal one; OTHER only fills a gap.
    Both backends implement exactly this rule (SQL CASE / Cypher CASE).
    """
    if new is None:
        return False
    if old is None or old == "NEW":
        return True
    if new in TERMINAL_STATES:
        return old not in TERMINAL_STATES or new_time >= (old_time or "")
    if old in TERMINAL_STATES or new == "OTHER":
        return False
    return new_time >= (old_time or "")


# ---------------------------------------------------------------- tag conventions


def retention_days(days: int | None, tags: Iterable[str]) -> int | None:
    """``setRetention`` wins; otherwise a ``retention:<days>d`` dataset tag."""
    if days is not None:
        return days
    for t in tags:
        if t.startswith("retention:") and t.endswith("d") and t[10:-1].isdigit():
            return int(t[10:-1])
    return None


def purposes(tags: Iterable[str]) -> list[str]:
    """The purposes ``purpose:<name>`` tags allow, sorted."""
    return sorted(t.split(":", 1)[1] for t in tags if t.startswith("purpose:"))


def purpose(tags: Iterable[str]) -> str | None:
    """The first purpose a run or job declares by tag, if any."""
    return next((t.split(":", 1)[1] for t in tags if t.startswith("purpose:")), None)


def covers(classification: str, wanted: str) -> bool:
    """``pii.email`` counts as ``pii``: a classification covers itself and its ancestors."""
    return classification == wanted or classification.startswith(wanted + ".")


# ---------------------------------------------------------------- lineage and versions


# Where a column was learned of (FieldRecord.learned_from).
SCHEMA, LINEAGE = "schema", "columnLineage"


def classified_fields(schema: Iterable[Sequence[Any]], lineage_names: Iterable[str],
                      held: Mapping[str, Iterable[str]],
                      inherited: Mapping[str, Iterable[str]]) -> ClassifiedFields:
    """A dataset's ``ClassifiedFields`` from its latest schema (``[name, type, description]``
    each), the names column lineage gives its fields, and the classifications each field holds
    (``held``) and inherits: counted and ordered as ``CatalogReader.fields`` lists them (the
    schema's, then those only lineage names, by name)."""
    schema = list(schema)
    lineage_only = sorted(set(lineage_names).difference(f[0] for f in schema))
    fields = [FieldRecord(n, t, desc, sorted(held.get(n, ())))
              for n, t, desc in schema if n in held or n in inherited]
    fields += [FieldRecord(n, None, None, sorted(held.get(n, ())), LINEAGE)
               for n in lineage_only if n in held or n in inherited]
    return ClassifiedFields(len(schema) + len(lineage_only), fields,
                            {n: sorted(cs) for n, cs in inherited.items()})


# A column-lineage input field sent with ``transformations: []`` (dbt-ol, Airflow): lineage
# without a known transformation. Stored with this type; shown as no label (null).
UNKNOWN_TRANSFORMATION = "UNKNOWN"


def transformation_label(type_: str | None, subtype: str | None) -> str | None:
    """``DIRECT/IDENTITY``; the type alone when the subtype is unknown; ``None`` when the
    transformation itself is unknown (the producer sent none)."""
    if type_ is None or type_ == UNKNOWN_TRANSFORMATION:
        return None
    return f"{type_}/{subtype}" if subtype else type_


def dead_letter_ids(received_at: str, payloads: Iterable[bytes]) -> list[str]:
    """One id per dead letter of a batch kept at ``received_at``: the position is part of it,
    so two identical bad events of one batch are both kept."""
    return [digest(received_at, str(i), p) for i, p in enumerate(payloads)]


def quality_result_id(dataset_id: str, field: str | None, assertion: str,
                      run_or_event: str, source: str, name: str | None = None) -> str:
    """One result per dataset, field, assertion, check name (when the producer names its
    checks, as dbt-ol does), run (else event) and source: re-sending the same results stores
    them once. Results without a name keep the ids they always had."""
    if name:
        return digest(dataset_id, field or "", assertion, run_or_event, source, name)
    return digest(dataset_id, field or "", assertion, run_or_event, source)
