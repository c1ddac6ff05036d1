"""A Great Expectations 1.x checkpoint action that sends every validation result to Headwater.

    import great_expectations as gx
    from headwater.integrations.great_expectations import HeadwaterAction

    checkpoint = gx.Checkpoint(name="orders", validation_definitions=[...], actions=[
        HeadwaterAction(name="headwater", url="http://127.0.0.1:5000", token="hw_…",
                        dataset_map={"my_source/orders": "postgres://shop:5432|shop.public.orders"})])

Needs ``pip install 'headwater[quality]'`` where the checkpoint runs.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from great_expectations.checkpoint.actions import ActionContext, ValidationAction
from great_expectations.checkpoint.checkpoint import CheckpointResult

from headwater.client import Client
from headwater.ingestion.great_expectations import quality_results


class HeadwaterAction(ValidationAction):
    type: Literal["headwater"] = "headwater"
    url: str = "http://127.0.0.1:5000"
    token: str | None = None  # default: HEADWATER_TOKEN
    dataset_map: dict[str, str] = {}  # "datasource/asset" or "asset" -> "namespace|name"
    run_id: str | None = None  # the OpenLineage run this validation belongs to, if any

    def run(self, checkpoint_result: CheckpointResult,
            action_context: ActionContext | None = None) -> dict[str, Any]:
        docs = [v.to_json_dict() for v in checkpoint_result.run_results.values()]
        results = quality_results(docs, self.dataset_map, self.run_id)
        with Client(self.url, self.token or os.environ.get("HEADWATER_TOKEN")) as client:
            answer = client.send_quality(results, source="great_expectations")
        return {"headwater": answer}
