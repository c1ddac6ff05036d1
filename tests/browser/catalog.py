"""A realistic small catalog for the browser tests, README screenshots and the UI benchmark: a
shop's PostgreSQL sources, dbt staging and marts, a dashboard extract; PII classified at the
source and inherited downstream; schema changes; quality results; a failed run with retries;
gate decisions; an erasure request waiting for review. Plus a fan-out hub of 600 lineage nodes
(``HUB``) for the explorer's responsiveness."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.factories import PRODUCER, SCHEMA_URL

PG = "postgres://shop-db:5432"
WH = "snowflake://acme"
HUB_NS = "s3://lake"
HUB = ("s3://lake", "events.clickstream")  # 1 dataset -> 200 jobs -> 400 datasets: 601 nodes
HUB_JOBS = 200


def _now(minutes_ago: float = 0) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat().replace("+00:00", "Z")


def _ds(ns: str, name: str, fields: list[tuple[str, str]], *, tags: list[dict[str, Any]] = (),
        owners: list[str] = (), lineage: dict[str, list[tuple[str, str, str, str]]] | None = None,
        quality: list[tuple[str, bool, str | None]] | None = None, doc: str | None = None
        ) -> dict[str, Any]:
    facets: dict[str, Any] = {"schema": {"_producer": PRODUCER, "_schemaURL": SCHEMA_URL,
                                         "fields": [{"name": f, "type": t} for f, t in fields]}}
    if tags:
        facets["tags"] = {"tags": list(tags)}
    if owners:
        facets["ownership"] = {"owners": [{"name": o, "type": "team"} for o in owners]}
    if doc:
        facets["documentation"] = {"description": doc}
    if lineage:
        facets["columnLineage"] = {"fields": {out: {"inputFields": [
            {"namespace": n, "name": d, "field": f,
             "transformations": [{"type": kind.split("/")[0], "subtype": kind.split("/")[1]}]}
            for n, d, f, kind in sources]} for out, sources in lineage.items()}}
    if quality:
        facets["dataQualityAssertions"] = {"assertions": [
            {"assertion": a, "success": ok, **({"column": c} if c else {})} for a, ok, c in quality]}
    return {"namespace": ns, "name": name, "facets": facets}


def _event(kind: str, job: tuple[str, str], inputs: list[dict[str, Any]],
           outputs: list[dict[str, Any]], *, run_id: str, at: str, sql: str | None = None,
           error: str | None = None) -> dict[str, Any]:
    run_facets: dict[str, Any] = {}
    if error:
        run_facets["errorMessage"] = {"message": error, "programmingLanguage": "python"}
    job_facets: dict[str, Any] = {"jobType": {"processingType": "BATCH", "integration": "DBT",
                                              "jobType": "MODEL"}}
    if sql:
        job_facets["sql"] = {"query": sql}
    return {"eventType": kind, "eventTime": at, "producer": PRODUCER, "schemaURL": SCHEMA_URL,
            "run": {"runId": run_id, "facets": run_facets},
            "job": {"namespace": job[0], "name": job[1], "facets": job_facets},
            "inputs": inputs, "outputs": outputs}


CUSTOMERS = [("customer_id", "bigint"), ("email", "varchar"), ("full_name", "varchar"),
             ("country", "varchar"), ("created_at", "timestamp")]
ORDERS = [("order_id", "bigint"), ("customer_id", "bigint"), ("amount", "numeric"),
          ("status", "varchar"), ("ordered_at", "timestamp")]


def events() -> list[dict[str, Any]]:
    pii = [{"key": "classification", "value": "pii.email", "field": "email"},
           {"key": "classification", "value": "pii.customer_id", "field": "customer_id"},
           {"key": "classification", "value": "pii", "field": "full_name"}]
    customers = _ds(PG, "shop.public.customers", CUSTOMERS, tags=pii, owners=["crm-team"],
                    doc="Every customer who ever signed up.")
    orders = _ds(PG, "shop.public.orders", ORDERS, owners=["checkout-team"],
                 tags=[{"key": "classification", "value": "pii.customer_id",
                        "field": "customer_id"}])
    ident = "DIRECT/IDENTITY"
    stg_customers = _ds(WH, "analytics.staging.stg_customers", CUSTOMERS[:4], owners=["data-eng"],
                        lineage={f: [(PG, "shop.public.customers", f, ident)]
                                 for f, _ in CUSTOMERS[:4]},
                        quality=[("not_null", True, "customer_id"), ("unique", True, "customer_id")])
    stg_orders = _ds(WH, "analytics.staging.stg_orders", ORDERS, owners=["data-eng"],
                     lineage={f: [(PG, "shop.public.orders", f, ident)] for f, _ in ORDERS},
                     quality=[("not_null", True, "order_id"), ("accepted_values", False, "status")])
    mart_fields = [("customer_id", "bigint"), ("email", "varchar"), ("country", "varchar"),
                   ("lifetime_value", "numeric"), ("orders", "bigint")]
    mart = _ds(WH, "analytics.marts.customer_value", mart_fields, owners=["growth-team"],
               tags=[{"key": "pii-allowed", "value": "pii"}],
               lineage={"customer_id": [(WH, "analytics.staging.stg_customers", "customer_id", ident)],
                        "email": [(WH, "analytics.staging.stg_customers", "email", ident)],
                        "country": [(WH, "analytics.staging.stg_customers", "country", ident)],
                        "lifetime_value": [(WH, "analytics.staging.stg_orders", "amount",
                                            "INDIRECT/AGGREGATION")],
                        "orders": [(WH, "analytics.staging.stg_orders", "order_id",
                                    "INDIRECT/AGGREGATION")]},
               quality=[("row_count_between", True, None)])
    dash_fields = [("country", "varchar"), ("revenue", "numeric"), ("customers", "bigint")]
    dash = _ds(WH, "analytics.reporting.revenue_by_country", dash_fields, owners=["finance"],
               lineage={"country": [(WH, "analytics.marts.customer_value", "country", ident)],
                        "revenue": [(WH, "analytics.marts.customer_value", "lifetime_value",
                                     "INDIRECT/AGGREGATION")],
                        "customers": [(WH, "analytics.marts.customer_value", "customer_id",
                                       "INDIRECT/AGGREGATION")]})
    crm = _ds("https://crm.example.com", "contacts", [("email", "varchar"), ("segment", "varchar")],
              owners=["crm-team"],
              lineage={"email": [(WH, "analytics.marts.customer_value", "email", ident)]})
    out: list[dict[str, Any]] = []

    def job(name: str, ins: list[dict[str, Any]], outs: list[dict[str, Any]], minutes_ago: float,
            sql: str, fail: str | None = None, ns: str = "dbt") -> None:
        run = str(uuid.uuid4())
        out.append(_event("START", (ns, name), ins, [], run_id=run, at=_now(minutes_ago + 2),
                          sql=sql))
        out.append(_event("FAIL" if fail else "COMPLETE", (ns, name), ins, outs, run_id=run,
                          at=_now(minutes_ago), sql=sql, error=fail))

    job("stg_customers", [customers], [stg_customers], 300,
        "select customer_id, email, full_name, country from shop.public.customers")
    job("stg_orders", [orders], [stg_orders], 290, "select * from shop.public.orders")
    # The mart's schema changes: a second version adds `orders` (its first lacks it).
    first_mart = _ds(WH, "analytics.marts.customer_value", mart_fields[:4], owners=["growth-team"])
    job("customer_value", [stg_customers, stg_orders], [first_mart], 280,
        "select c.customer_id, c.email, c.country, sum(o.amount) as lifetime_value\n"
        "from stg_customers c join stg_orders o using (customer_id)\ngroup by 1, 2, 3")
    job("customer_value", [stg_customers, stg_orders], [mart], 60,
        "select c.customer_id, c.email, c.country, sum(o.amount) as lifetime_value,\n"
        "       count(o.order_id) as orders\n"
        "from stg_customers c join stg_orders o using (customer_id)\ngroup by 1, 2, 3")
    job("revenue_by_country", [mart], [dash], 50,
        "select country, sum(lifetime_value) as revenue, count(*) as customers\n"
        "from customer_value group by country")
    job("revenue_by_country", [mart], [dash], 20, "select 1", fail="division by zero in revenue")
    job("sync_crm", [mart], [crm], 10, "-- reverse ETL", ns="census")
    # The hub: one raw dataset read by HUB_JOBS jobs, each writing two tables.
    # (not classified: an erasure would plan 400 tasks, which is the erasure tests' business)
    hub = _ds(*HUB, [("event_id", "varchar"), ("user_email", "varchar"), ("ts", "timestamp")])
    for k in range(HUB_JOBS):
        outs = [_ds(HUB_NS, f"derived.events_{k:03d}_{s}", [("event_id", "varchar"),
                                                               ("user_email", "varchar")],
                    lineage={"user_email": [(*HUB, "user_email", ident)]}) for s in ("a", "b")]
        run = str(uuid.uuid4())
        out.append(_event("COMPLETE", ("spark", f"sessionize_{k:03d}"), [hub], outs, run_id=run,
                          at=_now(400), sql=None))
    return out


def load(url: str, producer_token: str, steward_token: str) -> dict[str, Any]:
    """Send the catalog, ask the gate twice, file an erasure request; what the tests need."""
    with httpx.Client(base_url=url, timeout=60) as c:
        head = {"Authorization": f"Bearer {producer_token}"}
        r = c.post("/api/v1/lineage/batch", json=events(), headers=head)
        r.raise_for_status()
        bad = [x for x in r.json()["results"] if x.get("status") not in ("created", "duplicate")]
        assert not bad, bad[:3]
        for purpose in ("analytics", "marketing"):
            c.post("/api/v1/gate", headers=head, json={
                "job": {"namespace": "census", "name": "sync_crm"},
                "inputs": [{"namespace": WH, "name": "analytics.marts.customer_value"}],
                "outputs": [{"namespace": "https://crm.example.com", "name": "contacts"}],
                "context": {"purpose": purpose}}).raise_for_status()
        erasure = c.post("/api/v1/erasure-requests",
                         headers={"Authorization": f"Bearer {steward_token}"},
                         json={"identifiers": [{"kind": "email", "value": "ada@example.com"}],
                               "reason": "customer asked to be forgotten"})
        erasure.raise_for_status()
    return {"erasure": erasure.json()["id"]}
