"""Quality results from outside OpenLineage (Great Expectations, custom checks): the payload
they arrive in, and the store events they become."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, Field

from headwater.catalog import DatasetWrite, EventWrite, QualityWrite
from headwater.catalog.facts import NO_FACTS
from headwater.catalog.ids import dataset_id, digest
from headwater.ingestion.openlineage import Name, Text

MAX_RESULTS = 50_000


class QualityItem(BaseModel):
    namespace: Name
    name: Name
    assertion: str = Field(min_length=1)
    field: Text | None = None
    success: bool
    observedValue: Any = None
    details: dict[str, Any] | None = None
    runId: str | None = None
    observedAt: datetime


class QualityBatch(BaseModel):
    source: Literal["great_expectations", "openlineage", "custom"] = "custom"
    results: list[QualityItem] = Field(max_length=MAX_RESULTS)


def quality_events(batch: QualityBatch) -> list[EventWrite]:
    """One store event per dataset and validation time, idempotent by content: sending the
    same results twice stores them once."""
    groups: dict[tuple[str, str, datetime], list[QualityItem]] = defaultdict(list)
    for item in batch.results:
        groups[item.namespace, item.name, item.observedAt].append(item)
    events = []
    for (namespace, name, at), items in groups.items():
        payload = orjson.dumps({"source": batch.source, "results": [i.model_dump(mode="json")
                                                                   for i in items]},
                               option=orjson.OPT_SORT_KEYS)
        when = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC)
        events.append(EventWrite(
            event_id=digest(payload), kind="quality",
            event_time=when.isoformat(timespec="microseconds"), payload=payload,
            datasets=[DatasetWrite(namespace=namespace, name=name,
                                   id=dataset_id(namespace, name), role="dataset",
                                   facts=NO_FACTS,  # results only: nothing of the dataset
                                   quality=[QualityWrite(i.assertion, i.success, i.field,
                                                         batch.source, i.observedValue,
                                                         i.details, i.runId) for i in items])]))
    return events
