"""The metadata model and the store that keeps it (embedded SQLite or Neo4j)."""

from headwater.catalog.model import (
    ColumnEdge,
    DatasetRecord,
    DatasetWrite,
    DeadLetter,
    EventWrite,
    FieldRecord,
    FieldSpec,
    JobRecord,
    JobWrite,
    QualityRecord,
    QualityWrite,
    RunRecord,
    RunWrite,
    SchemaVersionRecord,
)
from headwater.catalog.store import Store, StoreError, open_store

__all__ = [
    "ColumnEdge",
    "DatasetRecord",
    "DatasetWrite",
    "DeadLetter",
    "EventWrite",
    "FieldRecord",
    "FieldSpec",
    "JobRecord",
    "JobWrite",
    "QualityRecord",
    "QualityWrite",
    "RunRecord",
    "RunWrite",
    "SchemaVersionRecord",
    "Store",
    "StoreError",
    "open_store",
]
