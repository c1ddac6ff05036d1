"""shop_export: export the customers the warehouse knows, then load them into the CRM.

Python and Bash tasks have no extractor, so they declare what they read and write as inlets
and outlets (OpenLineage datasets); the OpenLineage provider sends those with each task run.
"""

from datetime import datetime, timedelta

from airflow import DAG
from airflow.operators.bash import BashOperator
from airflow.operators.python import PythonOperator
from openlineage.client.event_v2 import Dataset
from openlineage.client.facet_v2 import schema_dataset


def schema(*names: str) -> dict:
    return {"schema": schema_dataset.SchemaDatasetFacet(
        fields=[schema_dataset.SchemaDatasetFacetFields(name=n, type="string") for n in names])}


CUSTOMERS = Dataset(namespace="duckdb://shop.duckdb", name="shop.main.stg_customers")
EXPORT = Dataset(namespace="file", name="/srv/exports/customers.csv",
                 facets=schema("customer_id", "email"))
CRM = Dataset(namespace="postgres://crm.internal:5432", name="crm.public.contacts",
              facets=schema("customer_id", "email"))


def load_into_crm(ti, **_) -> None:
    if ti.try_number == 1:  # the CRM is still starting: try 1 fails, the retry succeeds
        raise RuntimeError("CRM not reachable yet")


with DAG("shop_export", start_date=datetime(2026, 1, 1), schedule=None, catchup=False,
         default_args={"retries": 1, "retry_delay": timedelta(seconds=1)}):
    export = BashOperator(task_id="export_customers", bash_command="echo exported",
                          inlets=[CUSTOMERS], outlets=[EXPORT])
    load = PythonOperator(task_id="load_crm", python_callable=load_into_crm,
                          inlets=[EXPORT], outlets=[CRM])
    export >> load
