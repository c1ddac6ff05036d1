"""A small HTTP client for Headwater's API, used by the CLI and by orchestrator tasks."""

from __future__ import annotations

import os
from typing import Any

import httpx


class HeadwaterError(RuntimeError):
    def __init__(self, status: int, detail: str, errors: list[dict[str, Any]] | None = None):
        super().__init__(f"HTTP {status}: {detail}")
        self.status, self.detail, self.errors = status, detail, errors or []


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
        return self._check(self._http.post(
            "/api/v1/lineage/batch", content=body, headers={"Content-Type": "application/json"}
        ))

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = self._check(self._http.post("/graphql", json={"query": query,
                                                             "variables": variables or {}}))
        if body.get("errors"):
            raise HeadwaterError(200, "; ".join(e["message"] for e in body["errors"]))
        return body["data"]
