"""The hand-built graph the lineage tests share (fan-in, fan-out, a diamond, a cycle, and
column lineage across three hops).

    A ─┐                 ┌─> J3 ─> E
       ├─> J1 ─> C ──────┼─> J4 ─> F ─┐
    B ─┘                 ├─> J5 ─> G ─┴─> J6 ─> H
                         └─> J2 <─> D          (J2 reads C and D, writes D)

    columns: A.email ─IDENTITY─> C.email ─TRANSFORMATION(masking)─> F.email_hash ─IDENTITY─> H.contact
             B.id ─INDIRECT/JOIN─> C.customer_id
"""

from __future__ import annotations

from headwater.catalog import Store
from headwater.ingestion.normalize import normalize
from tests.factories import dataset, run_event, schema

NS = "warehouse://dw:5432"


def d(name: str) -> str:
    return f"dataset:{NS}:{name}"


def j(name: str) -> str:
    return f"job:etl:{name}"


def f(name: str, field: str) -> str:
    return f"datasetField:{NS}:{name}:{field}"


def _lineage(mapping: dict[str, list[tuple[str, str, str, str, bool]]]) -> dict:
    return {"columnLineage": {"fields": {
        out: {"inputFields": [
            {"namespace": NS, "name": src, "field": fld,
             "transformations": [{"type": t, "subtype": st, "masking": m}]}
            for src, fld, t, st, m in sources]}
        for out, sources in mapping.items()}}}


def events() -> list[dict]:
    def ds(name: str, *fields: str, lineage: dict | None = None) -> dict:
        return dataset(NS, name, s=schema(*fields), c=lineage or {})

    return [
        run_event("COMPLETE", job=("etl", "J1"), inputs=[ds("A", "email"), ds("B", "id")],
                  outputs=[ds("C", "email", "customer_id", lineage=_lineage({
                      "email": [("A", "email", "DIRECT", "IDENTITY", False)],
                      "customer_id": [("B", "id", "INDIRECT", "JOIN", False)]}))]),
        run_event("COMPLETE", job=("etl", "J2"), inputs=[ds("C", "email", "customer_id"),
                                                         ds("D", "x")], outputs=[ds("D", "x")]),
        run_event("COMPLETE", job=("etl", "J3"), inputs=[ds("C", "email", "customer_id")],
                  outputs=[ds("E", "n")]),
        run_event("COMPLETE", job=("etl", "J4"), inputs=[ds("C", "email", "customer_id")],
                  outputs=[ds("F", "email_hash", lineage=_lineage({
                      "email_hash": [("C", "email", "DIRECT", "TRANSFORMATION", True)]}))]),
        run_event("COMPLETE", job=("etl", "J5"), inputs=[ds("C", "email", "customer_id")],
                  outputs=[ds("G", "g")]),
        run_event("COMPLETE", job=("etl", "J6"), inputs=[ds("F", "email_hash"), ds("G", "g")],
                  outputs=[ds("H", "contact", lineage=_lineage({
                      "contact": [("F", "email_hash", "DIRECT", "IDENTITY", False)]}))]),
    ]


def load(store: Store) -> None:
    store.write_events([normalize(e) for e in events()])
