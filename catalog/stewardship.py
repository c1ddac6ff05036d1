"""A steward's edits as a service: classify a field, tag and untag a dataset, set its
retention, declassify a derivation; each checked (classification syntax, the dataset and field
exist) and run on the one writer the ingestion path uses, so every change that enters the
catalog goes through the same write path.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from headwater.catalog.errors import Invalid, NotFound
from headwater.catalog.model import DatasetRecord, FieldRecord
from headwater.catalog.resolving import resolve
from headwater.catalog.rules import CLASSIFICATION
from headwater.catalog.store import Store

_CLASSIFICATION = re.compile(CLASSIFICATION)

# Runs a function on the single store-writer thread (the group committer's executor).
Writer = Callable[..., Awaitable[Any]]


class Stewardship:
    def __init__(self, store: Store, writer: Writer) -> None:
        self.store = store
        self.writer = writer

    async def classify_field(self, namespace: str, name: str, field: str,
                             classifications: list[str]) -> FieldRecord:
        """Replace the steward-set classifications of a field; the field as it now is."""
        bad = [c for c in classifications if not _CLASSIFICATION.match(c)]
        if bad:
            raise Invalid.one(f"invalid classification {', '.join(map(repr, bad))}: use dotted "
                              "lower-case names such as 'pii.email' or 'sensitive.health'")
        field_record: FieldRecord = await self.writer(self._classify, namespace, name, field,
                                                      classifications)
        return field_record

    async def tag_dataset(self, namespace: str, name: str, tags: list[str]) -> DatasetRecord:
        return await self._edit_dataset(namespace, name, self.store.tag_dataset, tags, True)

    async def untag_dataset(self, namespace: str, name: str, tags: list[str]) -> DatasetRecord:
        return await self._edit_dataset(namespace, name, self.store.tag_dataset, tags, False)

    async def set_retention(self, namespace: str, name: str, days: int) -> DatasetRecord:
        if days < 0:
            raise Invalid.one("days must be 0 or more")
        return await self._edit_dataset(namespace, name, self.store.set_retention, days)

    async def declassify_derivation(self, source_field_id: str, target_field_id: str,
                                    declassifies: bool = True) -> None:
        """Declare that a derivation removes the source field's classifications (it
        anonymises), or undo that."""
        def run() -> None:
            self.store.declassify_edge(resolve(self.store, source_field_id),
                                       resolve(self.store, target_field_id), declassifies)

        await self.writer(run)

    # -- on the writer thread: check, edit, read back --------------------------------------
    def _existing(self, namespace: str, name: str) -> DatasetRecord:
        record = self.store.dataset(namespace, name)
        if record is None:
            raise NotFound(f"no dataset {name!r} in namespace {namespace!r}")
        return record

    def _classify(self, namespace: str, name: str, field: str,
                  classifications: list[str]) -> FieldRecord:
        record = self._existing(namespace, name)
        fields = {f.name: f for f in self.store.fields([record.id])[record.id]}
        if fields and field not in fields:
            raise Invalid.one(f"{name} has no field {field!r}; its fields: {', '.join(fields)}")
        self.store.classify_field(record.id, field, sorted(set(classifications)))
        current = self.store.fields([record.id])[record.id]
        match = next((f for f in current if f.name == field), None)
        return match or FieldRecord(field, classifications=sorted(classifications))

    async def _edit_dataset(self, namespace: str, name: str, edit: Callable[..., None],
                            *args: Any) -> DatasetRecord:
        def run() -> DatasetRecord:
            edit(self._existing(namespace, name).id, *args)
            return self._existing(namespace, name)

        record: DatasetRecord = await self.writer(run)
        return record
