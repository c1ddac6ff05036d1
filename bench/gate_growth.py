"""How the gate's cost grows with its input: one job reading a table of N columns (1 in 50
classified PII) into a table of N columns, column for column (N planned flows), for N from 10
to 10,000. In process, embedded store and engine (the Wasm module).

    .venv/bin/python -m bench.gate_growth [--sizes 10,100,1000,10000] [--samples 30]

For each N: the whole decision (catalog reads + evaluation) p50 / p95, and the evaluation of
the same request as input version 3 (what Headwater sends: classified fields and the flows
from them, datasets by id), as version 2 (the same with each flow's dataset names and each
field's type and origin) and as version 1 (every field and flow), the older ones rebuilt from it,
with the documents' sizes (policies/rego/README.md, "Versions of the input"). Writes
bench/results/gate_growth.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import orjson

from bench.stores import scratch_dir
from headwater.catalog import open_store
from headwater.catalog.ids import field_id
from headwater.ingestion.normalize import normalize
from headwater.policies.engine import EmbeddedEngine
from headwater.policies.gate import Gate, GateLimits, GateRequest
from tests.factories import column_lineage, dataset, run_event, schema
from tests.policies.older_inputs import as_version_2

NS = "postgres://growth"
DECISION = "headwater/gate/decision"


def event(n: int) -> dict[str, Any]:
    cols = [f"c{i}" for i in range(n)]
    tags = {"tags": {"tags": [{"key": "classification", "value": "pii.email", "field": c}
                              for c in cols[::50]]}}
    return run_event("COMPLETE", job=("etl", "copy"), inputs=[
        dataset(NS, "source", s=schema(*cols), t=tags)], outputs=[
        dataset(NS, "target", s=schema(*cols),
                c=column_lineage({c: [(NS, "source", c)] for c in cols}))])


def version_1(gate: Gate, req: GateRequest, doc: dict[str, Any]) -> dict[str, Any]:
    """The same request as input version 1: every field, every planned flow."""
    store, full = gate.store, orjson.loads(orjson.dumps(doc))
    refs = {d["id"]: (d["namespace"], d["name"]) for d in (*full["inputs"], *full["outputs"])}
    fields = store.fields(list(refs))
    inherited = store.inherited_classifications(
        [field_id(*refs[i], f.name) for i in refs for f in fields[i]])
    for d in (*full["inputs"], *full["outputs"]):
        d["fields"] = [{"name": f.name, "type": f.type, "classifications": f.classifications,
                        "inherited": inherited.get(field_id(*refs[d["id"]], f.name), []),
                        "learnedFrom": f.learned_from} for f in fields[d["id"]]]
    full["flows"] = [
        {"from": {"namespace": NS, "name": refs[f.source_dataset][1], "field": f.source_field,
                  "dataset": f.source_dataset},
         "to": {"namespace": NS, "name": refs[f.target_dataset][1], "field": f.target_field,
                "dataset": f.target_dataset}, "transformation": f.transformation,
         "masking": f.masking} for f in store.job_flows("job:etl:copy")]
    for key in ("inputVersion", "flowsKnown", "flowSources"):
        full.pop(key)
    return full


def timed(fn: Any, samples: int) -> tuple[float, float]:
    xs = []
    for _ in range(samples):
        t = time.perf_counter()
        fn()
        xs.append((time.perf_counter() - t) * 1000)
    q = statistics.quantiles(xs, n=20)
    return q[9], q[18]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10,100,1000,10000")
    ap.add_argument("--samples", type=int, default=30)
    args = ap.parse_args()
    engine = EmbeddedEngine(opa=None, timeout=60)
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        store = open_store("embedded", path=scratch_dir() / "headwater.db")
        store.write_events([normalize(event(n))])
        gate = Gate(store, engine, limits=GateLimits(max_flows=100_000, max_fields=100_000))
        req = GateRequest(job=("etl", "copy"), inputs=[(NS, "source")],
                          outputs=[(NS, "target")], purpose="billing")
        doc3 = gate.enrich(req)
        docs = {3: doc3, 2: as_version_2(gate.store, doc3), 1: version_1(gate, req, doc3)}
        decided = [engine.evaluate(DECISION, d) for d in docs.values()]
        assert decided[0] == decided[1] == decided[2]
        row: dict[str, Any] = {"fields": n, "decision_ms": timed(
            lambda: gate.decide(req, "bench"), args.samples)}  # noqa: B023
        for v, d in docs.items():
            row[f"evaluate_v{v}_ms"] = timed(
                lambda: engine.evaluate(DECISION, d), args.samples)  # noqa: B023
            row[f"doc_v{v}_kb"] = len(orjson.dumps(d)) / 1024
        rows.append(row)
        store.close()
    print("| fields (and flows) | decision p50 / p95 | evaluation, v3 / v2 / v1 |"
          " document v3 / v2 / v1 |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['fields']:,} | {r['decision_ms'][0]:.1f} / {r['decision_ms'][1]:.1f} ms |"
              f" {r['evaluate_v3_ms'][0]:.2f} / {r['evaluate_v2_ms'][0]:.2f} /"
              f" {r['evaluate_v1_ms'][0]:.2f} ms | {r['doc_v3_kb']:.1f} / {r['doc_v2_kb']:.1f} /"
              f" {r['doc_v1_kb']:.1f} KB |")
    out = Path(__file__).parent / "results" / "gate_growth.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
