"""A small HTTP client for Headwater's API, used by the CLI and by orchestrator tasks."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class GateDecision:
    """What the gate said: ``allow``, ``mask`` (apply ``masks``) or ``deny`` (see ``reasons``)."""

    decision: str
    reasons: list[dict[str, Any]]
    masks: list[dict[str, Any]]
    decision_id: str
    policy_revision: str

    @property
    def allowed(self) -> bool:
        """The run may go ahead (possibly with masking)."""
        return self.decision in ("allow", "mask")


class HeadwaterError(RuntimeError):
    """``status`` 0: the server could not be reached; ``graphql``: the server answered, and
    GraphQL refused the query (its message, never an HTTP status, is what the user sees)."""

    def __init__(self, status: int, detail: str, errors: list[dict[str, Any]] | None = None,
                 graphql: bool = False):
        super().__init__(detail if status == 0 or graphql else f"HTTP {status}: {detail}")
        self.status, self.detail, self.errors, self.graphql = status, detail, errors or [], graphql

    @property
    def unreachable(self) -> bool:
        return self.status == 0


class Client:
    def __init__(self, url: str | None = None, token: str | None = None,
                 timeout: float = 30.0) -> None:
        self.url = (url or os.environ.get("HEADWATER_URL") or "http://127.0.0.1:5000").rstrip("/")
        token = token or os.environ.get("HEADWATER_TOKEN")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise HeadwaterError(0, f"cannot reach Headwater at {self.url} ({exc}): is it "
                                 "running? Set --url or HEADWATER_URL") from None
        return self._check(response)

    def _post(self, path: str, **kwargs: Any) -> Any:
        return self._request("POST", path, **kwargs)

    def _get(self, path: str, **kwargs: Any) -> Any:
        return self._request("GET", path, **kwargs)

    def _check(self, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            try:
                body = response.json()
                raise HeadwaterError(response.status_code, body.get("detail", response.text),
                                     body.get("errors"))
            except ValueError:
                raise HeadwaterError(response.status_code, response.text) from None
        return response.json()

    def send_batch(self, body: bytes) -> dict[str, Any]:
        return self._post("/api/v1/lineage/batch", content=body,
                          headers={"Content-Type": "application/json"})

    def send_quality(self, results: list[dict[str, Any]], source: str) -> dict[str, Any]:
        """Quality results (see ``ingestion.great_expectations.quality_results``)."""
        return self._post("/api/v1/quality", json={"source": source, "results": results})

    def gate(self, job: tuple[str, str] | None = None, inputs: Sequence[tuple[str, str]] = (),
             outputs: Sequence[tuple[str, str]] = (), *, purpose: str | None = None,
             environment: str | None = None, event: dict[str, Any] | None = None
             ) -> GateDecision:
        """Ask the gate before a run: pass the planned OpenLineage START ``event``, or the job
        and its inputs/outputs as (namespace, name) pairs. For an Airflow task, Dagster op or
        Prefect flow: ``if not client.gate(...).allowed: raise ...``."""
        if event is not None:
            body: dict[str, Any] = dict(event)
            if purpose or environment:
                body["context"] = {"purpose": purpose, "environment": environment}
        elif job is not None:
            body = {"job": {"namespace": job[0], "name": job[1]},
                    "inputs": [{"namespace": n, "name": m} for n, m in inputs],
                    "outputs": [{"namespace": n, "name": m} for n, m in outputs],
                    "context": {"purpose": purpose, "environment": environment}}
        else:
            raise ValueError("pass either event= or job=")
        answer = self._post("/api/v1/gate", json=body)
        return GateDecision(answer["decision"], answer["reasons"], answer["masks"],
                            answer["decisionId"], answer["policyRevision"])

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = self._post("/graphql", json={"query": query, "variables": variables or {}})
        if body.get("errors"):
            raise HeadwaterError(200, "; ".join(e["message"] for e in body["errors"]),
                                 body["errors"], graphql=True)
        return body["data"]

    # -- erasure (steward) -----------------------------------------------------------------
    def file_erasure(self, identifiers: Sequence[tuple[str, str]], jurisdiction: str = "GDPR",
                     reason: str | None = None) -> dict[str, Any]:
        return self._post("/api/v1/erasure-requests", json={
            "identifiers": [{"kind": k, "value": v} for k, v in identifiers],
            "jurisdiction": jurisdiction, "reason": reason})

    def erasure(self, request_id: str) -> dict[str, Any]:
        return self._get(f"/api/v1/erasure-requests/{request_id}")

    def erasure_audit(self, request_id: str) -> dict[str, Any]:
        """The audit trail (``entries``) and what the server found checking its chain:
        ``verified``, ``integrity`` (verified | unkeyed | broken), ``reason``, ``length``,
        ``head``."""
        answer: dict[str, Any] = self._get(f"/api/v1/erasure-requests/{request_id}/audit")
        return answer

    def erasure_action(self, request_id: str, action: str, **body: Any) -> dict[str, Any]:
        """``extension`` (reason=…), ``retry``, or ``tasks/<id>/close`` (note=…)."""
        return self._post(f"/api/v1/erasure-requests/{request_id}/{action}", json=body)
