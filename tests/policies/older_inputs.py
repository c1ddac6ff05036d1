"""A gate input document as an older Headwater sent it (policies/rego/README.md, "Versions of
the input"), for the tests and the benchmark that check the shipped rules still decide it."""

from __future__ import annotations

from typing import Any

import orjson

from headwater.catalog import Store


def as_version_2(store: Store, doc: dict[str, Any]) -> dict[str, Any]:
    """The same request as input version 2: flows name their datasets' namespace and name too,
    fields have their type and where they were learned."""
    v2 = orjson.loads(orjson.dumps(doc))
    refs = {d["id"]: (d["namespace"], d["name"]) for d in (*v2["inputs"], *v2["outputs"])}
    held = store.fields(list(refs))
    for d in (*v2["inputs"], *v2["outputs"]):
        records = {f.name: f for f in held[d["id"]]}
        for f in d["fields"]:
            f |= {"type": records[f["name"]].type, "learnedFrom": records[f["name"]].learned_from}
    for flow in v2["flows"]:
        for end in (flow["from"], flow["to"]):
            end |= {"namespace": refs[end["dataset"]][0], "name": refs[end["dataset"]][1]}
    v2["inputVersion"] = 2
    return v2
