"""The run gate: enrich a planned run with catalog facts, ask the policy, log the decision.

Fail closed: an engine that is down, slow past its timeout or answering garbage gives ``deny``
with reason ``policy_engine_unavailable``, unless the caller's token is bound to an environment
configured fail-open (an environment claimed in the request body never is: a caller must not
get past the gate by claiming one).

Who decided is the caller's token (its name), never what the body says; the body may name whom
the run is for (``context.onBehalfOf``), which the policy sees as an unverified claim. Requests
are bounded before anything is evaluated: datasets, flows and the catalog fields they bring
(``GateLimits``), 413 past a limit.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import orjson
from prometheus_client import Counter, Histogram
from pydantic import BaseModel, Field, ValidationError

from headwater.catalog import ClassifiedFields, DatasetRecord, DecisionRecord, Flow, Store
from headwater.catalog.errors import Forbidden, Invalid, TooLarge
from headwater.catalog.ids import dataset_id, field_id, job_id
from headwater.catalog.resolving import resolve
from headwater.catalog.rules import purpose, purposes, transformation_label
from headwater.catalog.tokens import Identity
from headwater.ingestion.intake import parse_json
from headwater.ingestion.normalize import normalize
from headwater.ingestion.openlineage import InvalidEvent
from headwater.policies.engine import PolicyEngine, PolicyEngineUnavailable

DECISIONS = Counter("headwater_gate_decisions_total", "Gate decisions", ["decision"])
GATE_SECONDS = Histogram("headwater_gate_seconds", "Gate latency by phase", ["phase"],
                         buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5))
VERDICTS = ("allow", "mask", "deny")
# The input document's layout (policies/rego/README.md, "Versions of the input").
INPUT_VERSION = 3
log = logging.getLogger(__name__)


@dataclass
class GateRequest:
    job: tuple[str, str]
    inputs: list[tuple[str, str]]
    outputs: list[tuple[str, str]]
    purpose: str | None = None
    environment: str | None = None  # claimed by the body
    on_behalf_of: str | None = None  # claimed by the body: not the principal
    run_id: str | None = None
    job_tags: list[str] = field(default_factory=list)
    flows: list[Flow] | None = None  # planned column flows; None: use the job's last known


class Ref(BaseModel):
    namespace: str = Field(min_length=1)
    name: str = Field(min_length=1)


class Context(BaseModel):
    purpose: str | None = None
    environment: str | None = None
    on_behalf_of: str | None = Field(None, alias="onBehalfOf")
    principal: str | None = None  # before 0.2: read as onBehalfOf, never as the principal


class PlainGateRequest(BaseModel):
    job: Ref
    inputs: list[Ref] = []
    outputs: list[Ref] = []
    context: Context = Context.model_validate({})


NOT_A_REQUEST = ("the gate request is neither a valid OpenLineage RunEvent nor "
                 "{job, inputs, outputs, context}")


def gate_request(body: Any) -> GateRequest:
    """From an OpenLineage RunEvent (usually START) or the plain job/inputs/outputs form.
    Raises ``InvalidEvent`` with pointers when it is neither."""
    if isinstance(body, dict) and "run" in body:
        try:
            event = normalize(body)
        except InvalidEvent as exc:
            raise InvalidEvent(exc.errors, summary=NOT_A_REQUEST) from None
        assert event.job is not None and event.run is not None
        targets = {d.id for d in event.outputs}
        flows = [Flow(e.source_dataset, e.source_field, e.target_dataset, e.target_field,
                      transformation_label(e.type, e.subtype) or e.type, e.masking)
                 for e in event.column_edges if e.target_dataset in targets]
        given = body.get("context")
        context: dict[str, Any] = given if isinstance(given, dict) else {}
        return GateRequest(
            job=(event.job.namespace, event.job.name),
            inputs=[(d.namespace, d.name) for d in event.inputs],
            outputs=[(d.namespace, d.name) for d in event.outputs],
            purpose=_text(context.get("purpose")) or purpose(event.run.tags)
            or purpose(event.job.tags),
            environment=_text(context.get("environment")),
            on_behalf_of=_text(context.get("onBehalfOf")) or _text(context.get("principal")),
            run_id=event.run.id, job_tags=event.job.tags, flows=flows or None)
    try:
        plain = PlainGateRequest.model_validate(body)
    except ValidationError as exc:
        raise InvalidEvent(InvalidEvent.from_pydantic(exc).errors, summary=NOT_A_REQUEST
                           ) from None
    return GateRequest(job=(plain.job.namespace, plain.job.name),
                       inputs=[(r.namespace, r.name) for r in plain.inputs],
                       outputs=[(r.namespace, r.name) for r in plain.outputs],
                       purpose=plain.context.purpose, environment=plain.context.environment,
                       on_behalf_of=plain.context.on_behalf_of or plain.context.principal)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True)
class GateLimits:
    """What one gate request may bring, checked before anything is evaluated (413 past one)."""

    max_body_bytes: int = 1024 * 1024
    max_datasets: int = 1000  # inputs + outputs
    max_flows: int = 10_000  # planned column flows (from the event, else the job's last known)
    max_fields: int = 50_000  # catalog fields of those datasets

    def for_regopy(self) -> GateLimits:
        """Tighter limits for the regopy fallback, which cannot be interrupted and whose cost
        grows faster than its input (it scans objects on lookup): ~1-5 s at these."""
        return replace(self, max_datasets=min(self.max_datasets, 100),
                       max_flows=min(self.max_flows, 500), max_fields=min(self.max_fields, 5000))


@dataclass
class GateDecision:
    record: DecisionRecord
    enrich_ms: float
    evaluate_ms: float


def _dataset_doc(ref: tuple[str, str], record: DatasetRecord | None,
                 fields: ClassifiedFields, quality: list[Any]) -> dict[str, Any]:
    """``ref`` as the request names it (the catalog may hold it under another name)."""
    tags = sorted(record.tags) if record else []
    return {
        "id": dataset_id(*ref), "namespace": ref[0], "name": ref[1], "known": record is not None,
        "tags": tags, "retentionDays": record.retention_days if record else None,
        "purposes": purposes(tags),
        "piiAllowed": sorted(t.split(":", 1)[1] for t in tags if t.startswith("pii-allowed:")),
        "quality": {
            "failed": sorted({_assertion(q) for q in quality if not q.success}),
            "passed": sorted({_assertion(q) for q in quality if q.success}),
        },
        # Only classified fields (directly or by inheritance), and of them only what the rules
        # read: most of a warehouse's columns are not classified.
        "fields": [{"name": f.name, "classifications": f.classifications,
                    "inherited": fields.inherited.get(f.name, [])} for f in fields.fields],
        "fieldCount": fields.count,
    }


def _as_sent(flows: list[Flow], sent: dict[str, str]) -> list[Flow]:
    """Flows with the dataset ids the catalog holds replaced by the names the request sent."""
    return [f if f.source_dataset not in sent and f.target_dataset not in sent
            else replace(f, source_dataset=sent.get(f.source_dataset, f.source_dataset),
                         target_dataset=sent.get(f.target_dataset, f.target_dataset))
            for f in flows]


def _assertion(q: Any) -> str:
    return f"{q.assertion}({q.field})" if q.field else q.assertion


class Gate:
    def __init__(self, store: Store, engine: PolicyEngine,
                 fail_open_environments: Sequence[str] = (),
                 limits: GateLimits | None = None) -> None:
        self.store = store
        self.engine = engine
        self.fail_open = set(fail_open_environments)
        self.limits = limits or GateLimits()
        if getattr(engine, "evaluator", None) == "regopy":
            self.limits = self.limits.for_regopy()
            log.warning("the gate evaluates with regopy: requests are limited to %d datasets, "
                        "%d flows and %d fields until the compiled policy is current",
                        self.limits.max_datasets, self.limits.max_flows, self.limits.max_fields)

    def _bounded(self, req: GateRequest) -> None:
        """TooLarge when the request brings more datasets or flows than the limits allow."""
        limits, datasets = self.limits, len(req.inputs) + len(req.outputs)
        if datasets > limits.max_datasets:
            raise TooLarge(f"the gate request names {datasets} datasets (inputs and outputs); "
                           f"the limit is {limits.max_datasets}: split the job, or raise "
                           "HEADWATER_GATE_MAX_DATASETS")
        if req.flows is not None and len(req.flows) > limits.max_flows:
            raise TooLarge(f"the gate request plans {len(req.flows)} column flows; the limit is "
                           f"{limits.max_flows}: raise HEADWATER_GATE_MAX_FLOWS")

    def enrich(self, req: GateRequest, principal: str | None = None) -> dict[str, Any]:
        """The policy's input document (documented in policies/rego/README.md). A handful of
        bulk store reads, whatever the number of datasets and fields. TooLarge when the
        request, or what the catalog holds for it, is over the limits."""
        self._bounded(req)
        refs = [*req.inputs, *req.outputs]
        ids = [dataset_id(*r) for r in refs]
        # A name declared another name of a dataset (a storage location its table's symlinks
        # list) is judged by that dataset's catalog entries; the document keeps the name sent.
        aliases = self.store.alias_targets(ids)
        held = {i: aliases.get(i, r) for i, r in zip(ids, refs, strict=True)}
        catalog_id = {i: dataset_id(*held[i]) if i in aliases else i for i in ids}
        read = list(dict.fromkeys(catalog_id.values()))
        stored = dict(zip(read, self.store.datasets_by_id(read, facets=False), strict=True))
        records = {i: stored[catalog_id[i]] for i in ids}
        # Only the classified fields (and what they inherit) are read in full, with the count
        # of all the catalog knows: the cost follows the classified part, not the width.
        held_fields = self.store.classified_fields(read)
        fields = {i: held_fields[catalog_id[i]] for i in ids}
        total = sum(fields[i].count for i in set(ids))
        if total > self.limits.max_fields:
            raise TooLarge(f"the {len(set(ids))} datasets of this gate request have {total} "
                           f"fields in the catalog; the limit is {self.limits.max_fields}: "
                           "split the job, or raise HEADWATER_GATE_MAX_FIELDS")
        held_quality = self.store.latest_quality(
            list(dict.fromkeys(catalog_id[dataset_id(*r)] for r in req.inputs)))
        known = dict(zip(ids, refs, strict=True))
        sent = {c: i for i, c in catalog_id.items() if c != i}  # held as another name: as sent
        if req.flows is not None:
            flows = _as_sent(req.flows, sent) if sent else req.flows
            planned = [(f.source_dataset, f.target_dataset) for f in flows]
        else:
            # The job's last reported flows: how many and between which datasets, and in full
            # only those from the classified fields (no rule reads the others).
            stored_flows = self.store.job_flows_from(job_id(*req.job), [
                field_id(*held[i], f.name) for i in dict.fromkeys(ids)
                for f in fields[i].fields])
            if stored_flows.count > self.limits.max_flows:
                raise TooLarge(f"job {job_id(*req.job)} last reported {stored_flows.count} "
                               f"column flows; the gate's limit is {self.limits.max_flows}: "
                               "send the planned flows in the START event's columnLineage "
                               "facet, or raise HEADWATER_GATE_MAX_FLOWS")
            planned = [(sent.get(s, s), sent.get(t, t)) for s, t in stored_flows.datasets]
            flows = _as_sent(stored_flows.flows, sent) if sent else stored_flows.flows
        planned = [(s, t) for s, t in planned if s in known and t in known]
        fed_by: dict[str, set[str]] = {}
        for source, target in planned:
            fed_by.setdefault(target, set()).add(source)
        inputs = [_dataset_doc(r, records[i], fields[i], held_quality.get(catalog_id[i], []))
                  for r in req.inputs for i in [dataset_id(*r)]]
        outputs = [_dataset_doc(r, records[i], fields[i], []) for r in req.outputs
                   for i in [dataset_id(*r)]]
        for doc in outputs:
            doc["fedBy"] = sorted(fed_by.get(doc["id"], ()))
        # Only the flows that start from a classified field: no rule reads the others, beyond
        # whether any are known (flowsKnown) and where they start (flowSources).
        classified = {(d["id"], f["name"]) for d in (*inputs, *outputs) for f in d["fields"]}
        return {
            "inputVersion": INPUT_VERSION,
            "job": {"namespace": req.job[0], "name": req.job[1], "tags": sorted(req.job_tags)},
            "context": {k: v for k, v in (("purpose", req.purpose),
                                          ("environment", req.environment),
                                          ("principal", principal),
                                          ("onBehalfOf", req.on_behalf_of)) if v is not None},
            "inputs": inputs,
            "outputs": outputs,
            "flowsKnown": bool(planned),
            "flowSources": sorted({source for source, _ in planned}),
            # Datasets by id alone (their namespace and name are in inputs and outputs).
            "flows": [{"from": {"dataset": f.source_dataset, "field": f.source_field},
                       "to": {"dataset": f.target_dataset, "field": f.target_field},
                       "transformation": f.transformation, "masking": f.masking}
                      for f in flows if (f.source_dataset, f.source_field) in classified
                      and f.source_dataset in known and f.target_dataset in known],
        }

    def check(self, body: bytes, caller: Identity) -> GateDecision:
        """Decide on a request body (a RunEvent or the plain form) from ``caller``. The body's
        size is the route's to bound (``limits.max_body_bytes``)."""
        if len(body) > self.limits.max_body_bytes:
            raise TooLarge(f"the gate request is {len(body)} bytes; the limit is "
                           f"{self.limits.max_body_bytes}")
        req = gate_request(parse_json(body))
        self._bounded(req)
        if caller.environment is not None:
            if req.environment not in (None, caller.environment):
                raise Forbidden(f"this token is for environment {caller.environment!r}; the "
                                f"request claims {req.environment!r}: use that environment's "
                                "token")
            req.environment = caller.environment
        return self.decide(req, caller.name, fail_open=caller.environment in self.fail_open)

    def decisions(self, first: int = 50, run_id: str | None = None,
                  job_id: str | None = None, decision: str | None = None,
                  principal: str | None = None) -> list[DecisionRecord]:
        """The decision log, newest first; ``job_id`` as ``catalog.resolving`` reads it."""
        if decision is not None and decision not in VERDICTS:
            raise Invalid.one(f"decision must be one of {', '.join(VERDICTS)}, not "
                              f"{decision!r}")
        return self.store.decisions(first, run_id,
                                    resolve(self.store, job_id) if job_id else None,
                                    decision, principal)

    def decide(self, req: GateRequest, principal: str, fail_open: bool = False) -> GateDecision:
        """Decide for ``principal`` (the caller's token name). ``fail_open``: the caller's token
        is bound to a fail-open environment, so an engine that cannot answer allows (with a
        warning) instead of denying."""
        started = time.perf_counter()
        document = self.enrich(req, principal)
        enriched = time.perf_counter()
        try:
            answer = self.engine.evaluate("headwater/gate/decision", document)
            if not (isinstance(answer, dict) and answer.get("decision") in VERDICTS
                    and isinstance(answer.get("reasons"), list)
                    and isinstance(answer.get("masks"), list)):
                raise PolicyEngineUnavailable(f"the policy answered garbage: {answer!r:.200}")
            verdict, reasons, masks = answer["decision"], answer["reasons"], answer["masks"]
        except PolicyEngineUnavailable as exc:
            verdict, masks = ("allow" if fail_open else "deny"), []
            reasons = [{"rule": "policy_engine_unavailable", "severity": "warn" if fail_open
                        else "deny", "dataset": None, "field": None,
                        "message": f"{exc}" + (" (fail-open environment)" if fail_open else
                                               "; the gate fails closed")}]
        evaluated = time.perf_counter()
        key = lambda d: orjson.dumps(d, option=orjson.OPT_SORT_KEYS)  # noqa: E731
        record = DecisionRecord(
            id=str(uuid.uuid4()), time=datetime.now(UTC).isoformat(timespec="microseconds"),
            principal=principal, job_id=job_id(*req.job), run_id=req.run_id, decision=verdict,
            reasons=sorted(reasons, key=key), masks=sorted(masks, key=key),
            policy_revision=self.engine.revision(), engine=self.engine.kind,
            input_digest="sha256:" + hashlib.sha256(
                orjson.dumps(document, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32])
        self.store.log_decision(record)
        return GateDecision(record, (enriched - started) * 1000, (evaluated - enriched) * 1000)


def observe(result: GateDecision) -> None:
    """Count a decision in the server's metrics (where it was decided may be a worker process
    of its own, whose metrics nobody scrapes)."""
    DECISIONS.labels(result.record.decision).inc()
    GATE_SECONDS.labels("enrich").observe(result.enrich_ms / 1000)
    GATE_SECONDS.labels("evaluate").observe(result.evaluate_ms / 1000)
