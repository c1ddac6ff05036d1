"""The erasure worker: plans received requests and runs their tasks through connectors.

Runs inside ``headwater serve`` or alone (``headwater erase worker``); several may run. A
worker leases a request (compare-and-set on the request document) and renews the lease with
each write; when a worker dies its lease runs out and another (or the restarted one) resumes.

Crash safety, per task: the attempt is recorded with the rows it found *before* anything is
changed; the change itself is one transaction (or an atomic file replace) and idempotent. A
task found ``running`` was interrupted: it is erased again (affecting 0 rows if the first
change had committed) and counted as the rows found before the crash, so nothing is counted
twice and finished tasks are never repeated.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import socket
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from prometheus_client import Gauge

from headwater.policies.engine import PolicyEngine, PolicyEngineUnavailable
from headwater.policies.erasure import planner
from headwater.policies.erasure.connectors import (
    Connector,
    ConnectorError,
    Connectors,
    Target,
    Webhook,
)
from headwater.policies.erasure.model import ACTIVE, OPEN_TASK, Request, Task, iso, now, parse_iso
from headwater.policies.erasure.service import Erasures, fail_attempt

log = logging.getLogger("headwater.erasure")
OPEN = Gauge("headwater_erasure_open_requests", "Erasure requests not completed yet")
OVERDUE = Gauge("headwater_erasure_overdue_requests", "Erasure requests not completed by deadline")


class _Busy(Exception):
    """Another worker holds the request's lease."""


@dataclass
class WorkerConfig:
    lease_seconds: float = 120.0
    poll_seconds: float = 2.0
    backoff_seconds: float = 5.0
    max_attempts: int = 5
    webhook_timeout_seconds: float = 3600.0
    callback_base: str = "http://127.0.0.1:5000"
    notify_url: str | None = None


class Worker:
    def __init__(self, erasures: Erasures, engine: PolicyEngine, connectors: Connectors,
                 config: WorkerConfig, worker_id: str | None = None) -> None:
        self.erasures = erasures
        self.engine = engine
        self.connectors = connectors
        self.config = config
        self.id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.http = httpx.Client(timeout=10.0)

    # -- loop ------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        log.info("erasure worker %s started", self.id)
        while not stop.is_set():
            try:
                self.run_once()
            except Exception:  # keep working: the failure is in the log, the state is durable
                log.exception("erasure worker cycle failed")
            stop.wait(self.config.poll_seconds)

    def run_once(self) -> int:
        """Advance every request with work due; how many were advanced."""
        unfinished = self.erasures.unfinished()
        OPEN.set(len(unfinished))
        OVERDUE.set(sum(r.overdue() for r in unfinished))
        advanced = 0
        for req in unfinished:
            if req.status in ACTIVE and self._due(req) and self._leasable(req):
                try:
                    self.advance(req.id)
                    advanced += 1
                except _Busy:
                    continue  # another worker leased it first
        return advanced

    def _due(self, req: Request) -> bool:
        return req.status in ("RECEIVED", "PLANNED") or bool(self._runnable(req))

    def _leasable(self, req: Request) -> bool:
        return (req.lease_owner in (None, self.id) or req.lease_until is None
                or parse_iso(req.lease_until) <= now())

    # -- one request -----------------------------------------------------------------------
    def _write(self, request_id: str, change: Any, renew: bool = True) -> Request:
        """A change made under this worker's lease, which it renews."""
        def leased(req: Request) -> list[dict[str, Any]] | None:
            if not self._leasable(req):
                raise _Busy
            entries = change(req)
            if entries is None:
                return None
            if renew and req.status in ("RECEIVED", "PLANNED", "RUNNING"):
                if req.lease_owner not in (None, self.id):
                    entries = [{"at": iso(now()), "actor": self.id, "event": "resumed",
                                "previousWorker": req.lease_owner}, *entries]
                req.lease_owner = self.id
                req.lease_until = iso(now() + timedelta(seconds=self.config.lease_seconds))
            return entries
        return self.erasures.update(request_id, leased)

    def advance(self, request_id: str) -> None:
        req = self._write(request_id, lambda r: [])  # claim
        if req.status == "RECEIVED":
            req = self._plan(req)
        for task in list(req.tasks):
            latest = self.erasures.get(request_id)
            current = latest.task(task.id)
            if current is not None and task.id in self._runnable(latest):
                self._run_task(request_id, current)
        self._write(request_id, self._release, renew=False)

    def _runnable(self, req: Request) -> set[str]:
        """Tasks due now whose sources are settled: while a source's erasure is still open (a
        webhook waiting for its callback, an attempt to retry), what derives from it waits, so a
        pipeline cannot re-derive what was erased downstream."""
        held: set[str] = set()
        ready = set()
        for t in req.tasks:  # plan order: sources first
            if held & set(t.upstream):
                held.add(t.dataset)
            elif self._task_due(t):
                ready.add(t.id)
            if t.status in OPEN_TASK:
                held.add(t.dataset)
        return ready

    def _release(self, req: Request) -> list[dict[str, Any]]:
        entries = Erasures.settle(req, self.id)
        if req.lease_owner == self.id:
            req.lease_owner = req.lease_until = None
        return entries

    @staticmethod
    def _task_due(task: Task) -> bool:
        t = now()
        return (task.status in ("pending", "running")
                or (task.status == "retrying" and parse_iso(task.next_attempt_at or "") <= t)
                or (task.status == "waiting" and parse_iso(task.waiting_until or "") <= t))

    def _plan(self, req: Request) -> Request:
        try:
            tasks = planner.plan(self.erasures.store, self.engine, self.connectors, req.kinds)
        except PolicyEngineUnavailable as exc:
            error = f"planning waits for the policy engine (no exemption check, no erasure): {exc}"
            log.warning("request %s: %s", req.id, error)

            def deferred(r: Request) -> list[dict[str, Any]] | None:
                if r.planning_error == error:
                    return None
                r.planning_error = error
                return [{"at": iso(now()), "actor": self.id, "event": "planning_deferred",
                         "error": error}]
            return self._write(req.id, deferred)

        def planned(r: Request) -> list[dict[str, Any]] | None:
            if r.status != "RECEIVED":
                return None
            for t in tasks:
                t.max_attempts = self.config.max_attempts
            r.tasks, r.status, r.planning_error = tasks, "PLANNED", None
            at = iso(now())
            entries: list[dict[str, Any]] = [{
                "at": at, "actor": self.id, "event": "planned", "policyRevision":
                self.engine.revision(),
                "tasks": [{"task": t.id, "dataset": t.dataset, "action": t.action,
                           "connector": t.connector, "fields": t.keys, "upstream": t.upstream}
                          for t in tasks]}]
            for t in tasks:
                if t.status == "exempt":
                    entries.append({"at": at, "actor": self.id, "event": "exempt", "task": t.id,
                                    "dataset": t.dataset, "basis": t.exemption})
                elif t.status == "review":
                    entries.append({"at": at, "actor": self.id, "event": "review_required",
                                    "task": t.id, "dataset": t.dataset, "reason": t.review_reason})
            return entries
        return self._write(req.id, planned)

    # -- one task --------------------------------------------------------------------------
    def _run_task(self, request_id: str, task: Task) -> None:
        try:
            connector = self.connectors.for_dataset(task.namespace, task.name)
        except ConnectorError as exc:
            self._fail(request_id, task.id, str(exc))
            return
        if connector is None:
            self._fail(request_id, task.id, f"no connector is configured for {task.namespace!r} "
                       "any more (HEADWATER_CONNECTORS_FILE)")
        elif isinstance(connector, Webhook):
            self._run_webhook(request_id, task, connector)
        else:
            self._run_connector(request_id, task, connector)

    def _target(self, request_id: str, task: Task) -> Target:
        req = self.erasures.get(request_id)
        if req.sealed is None:
            raise ConnectorError("the subject's identifiers were already dropped")
        clear = self.erasures.vault.open(req.sealed)
        keys = {f: [v for k in kinds for v in clear.get(k, [])] for f, kinds in task.keys.items()}
        return Target(task.namespace, task.name, keys, action=task.action,
                      mask_fields=tuple(task.mask_fields), strategy=task.strategy,
                      hash_key=self.erasures.vault.masking_key)

    def _run_connector(self, request_id: str, task: Task, connector: Connector) -> None:
        try:
            resumed = task.status == "running"
            if not resumed:
                narrowed = self._narrow(request_id, task, connector)
                if narrowed is None:
                    return  # nothing left to erase by: the task went to review
                task = narrowed
            target = self._target(request_id, task)
            if resumed:
                self._write(request_id, lambda r: [{
                    "at": iso(now()), "actor": self.id, "event": "attempt_resumed",
                    "task": task.id, "dataset": task.dataset, "attempt": task.attempts,
                    "rowsFoundBefore": task.rows_found}])
            else:
                found = connector.count(target)

                def started(r: Request) -> list[dict[str, Any]] | None:
                    t = r.task(task.id)
                    if t is None or t.status not in ("pending", "retrying"):
                        return None
                    t.status, t.attempts, t.rows_found = "running", t.attempts + 1, found
                    r.status = "RUNNING"
                    return [{"at": iso(now()), "actor": self.id, "event": "attempt_started",
                             "task": t.id, "dataset": t.dataset, "connector": connector.kind,
                             "action": t.action, "attempt": t.attempts, "rowsFound": found}]
                current = self._write(request_id, started).task(task.id)
                if current is None or current.status != "running":
                    return  # someone else changed the task meanwhile: look again next cycle
            affected = connector.erase(target)
            if resumed:
                affected = max(affected, task.rows_found or 0)
            remaining = connector.count(target)
        except (ConnectorError, ValueError) as exc:
            self._fail(request_id, task.id, str(exc))
            return
        except Exception as exc:  # a connector bug must not leave the task running forever
            log.exception("erasure %s task %s", request_id, task.id)
            self._fail(request_id, task.id, f"{type(exc).__name__}: {exc}")
            return
        if remaining:
            self._fail(request_id, task.id, f"verification found {remaining} row(s) still "
                       f"holding the subject in {task.dataset} after the {task.action}")
            return

        def done(r: Request) -> list[dict[str, Any]] | None:
            t = r.task(task.id)
            if t is None or t.status != "running":
                return None
            t.status, t.rows_affected, t.remaining, t.last_error = "done", affected, 0, None
            at = iso(now())
            return [{"at": at, "actor": self.id, "event": "task_done", "task": t.id,
                     "dataset": t.dataset, "action": t.action, "strategy": t.strategy,
                     "rowsAffected": affected},
                    {"at": at, "actor": self.id, "event": "verified", "task": t.id,
                     "dataset": t.dataset, "remaining": 0}]
        req = self._write(request_id, done)
        finished = req.task(task.id)
        if finished is not None and finished.owners:
            notice = self._notify(req, finished)  # outside the write: it may be retried
            self._write(request_id, lambda r: [notice])

    def _narrow(self, request_id: str, task: Task, connector: Connector) -> Task | None:
        """Check the columns the catalog classifies against the dataset as it is. A column it
        does not have cannot find the subject's rows, and retrying will not make it appear:
        the task erases by the columns that exist, and what was classified on a missing one
        (perhaps renamed) becomes a review task saying what to fix; with no identifier column
        left, the whole task is a review. The task as it now is, or ``None`` when it is no
        longer for this worker to run."""
        columns = connector.columns(Target(task.namespace, task.name, {}, action=task.action))
        if columns is None:
            return task

        def narrowed(r: Request) -> list[dict[str, Any]] | None:
            t = r.task(task.id)
            if t is None or t.status not in ("pending", "retrying"):
                return None
            gone = sorted(set(t.keys) - columns)
            unmasked = (sorted(set(t.mask_fields) - columns - set(t.keys))
                        if t.action == "anonymise" else [])
            if not gone and not unmasked:
                return None
            present = {f: kinds for f, kinds in t.keys.items() if f in columns}
            reason = _missing_reason(t, gone, unmasked, columns, sorted(present))
            at = iso(now())
            entry: dict[str, Any] = {
                "at": at, "actor": self.id, "event": "columns_missing", "task": t.id,
                "dataset": t.dataset, "missing": gone + unmasked, "columns": sorted(columns)}
            if not present:
                t.status, t.action, t.review_reason = "review", f"review ({t.action} by hand)", reason
                return [entry, {"at": at, "actor": self.id, "event": "review_required",
                                "task": t.id, "dataset": t.dataset, "reason": reason}]
            taken = {x.id for x in r.tasks}
            review_id = next(i for i in (f"{t.id}-review{n or ''}" for n in range(len(taken) + 1))
                             if i not in taken)
            review = Task(id=review_id, dataset=t.dataset, namespace=t.namespace, name=t.name,
                          action=f"review ({t.action} by hand)", status="review",
                          keys={f: t.keys[f] for f in gone}, mask_fields=unmasked,
                          review_reason=reason, upstream=list(t.upstream), owners=list(t.owners),
                          max_attempts=t.max_attempts)
            t.keys = present
            t.mask_fields = [f for f in t.mask_fields if f in columns]
            r.tasks.insert(r.tasks.index(t) + 1, review)
            entry.update({"erasingBy": sorted(present), "review": review_id})
            return [entry, {"at": at, "actor": self.id, "event": "review_required",
                            "task": review_id, "dataset": t.dataset, "reason": reason}]

        current = self._write(request_id, narrowed).task(task.id)
        if current is None or current.status not in ("pending", "retrying"):
            return None
        return current

    def _fail(self, request_id: str, task_id: str, error: str) -> None:
        log.warning("erasure %s task %s: %s", request_id, task_id, error)

        def failed(r: Request) -> list[dict[str, Any]] | None:
            t = r.task(task_id)
            if t is None:
                return None
            if t.status in ("pending", "retrying"):  # failed before the attempt was recorded
                t.attempts += 1
            return fail_attempt(t, error, self.config.backoff_seconds)
        self._write(request_id, failed)

    def _run_webhook(self, request_id: str, task: Task, hook: Webhook) -> None:
        if task.status == "waiting":  # due: the recipient did not answer in time
            self._fail(request_id, task.id, f"no callback from {hook.url} within "
                       f"{self.config.webhook_timeout_seconds:.0f} s")
            return
        try:
            target = self._target(request_id, task)
        except (ConnectorError, ValueError) as exc:
            self._fail(request_id, task.id, str(exc))
            return
        token = secrets.token_urlsafe(32)

        def sent(r: Request) -> list[dict[str, Any]] | None:
            t = r.task(task.id)
            if t is None or t.status not in ("pending", "retrying", "running"):
                return None
            t.status, t.attempts = "waiting", t.attempts + 1
            t.callback_hash = hashlib.sha256(token.encode()).hexdigest()
            t.waiting_until = iso(now() + timedelta(seconds=self.config.webhook_timeout_seconds))
            r.status = "RUNNING"
            return [{"at": iso(now()), "actor": self.id, "event": "instruction_sent",
                     "task": t.id, "dataset": t.dataset, "recipient": hook.url,
                     "attempt": t.attempts, "callbackBy": t.waiting_until}]
        req = self._write(request_id, sent)
        current = req.task(task.id)
        assert current is not None
        body = {"requestId": request_id, "taskId": task.id, "attempt": current.attempts,
                "dataset": {"namespace": task.namespace, "name": task.name},
                "action": task.action, "strategy": task.strategy,
                "identifiers": target.keys, "deadline": req.deadline,
                "callbackUrl": f"{self.config.callback_base.rstrip('/')}/api/v1/erasure-requests/"
                               f"{request_id}/tasks/{task.id}/callback",
                "callbackToken": token}
        headers = {"Idempotency-Key": f"{request_id}/{task.id}/{current.attempts}"}
        if hook.secret:
            headers["Authorization"] = f"Bearer {hook.secret}"
        try:
            response = self.http.post(hook.url, json=body, headers=headers)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            self._fail(request_id, task.id, f"the instruction to {hook.url} failed: {exc}")

    def _notify(self, req: Request, task: Task) -> dict[str, Any]:
        """Art. 19: tell the dataset's owners that the subject's data was erased from it."""
        entry: dict[str, Any] = {"at": iso(now()), "actor": self.id, "event": "owners_notified",
                                 "task": task.id, "dataset": task.dataset,
                                 "recipients": task.owners}
        if not self.config.notify_url:
            entry["channel"] = "audit trail only (set HEADWATER_ERASURE_NOTIFY_URL to send)"
            return entry
        try:
            response = self.http.post(self.config.notify_url, json={
                "requestId": req.id, "dataset": task.dataset, "recipients": task.owners,
                "action": task.action, "rowsAffected": task.rows_affected})
            entry["channel"], entry["status"] = self.config.notify_url, response.status_code
        except httpx.HTTPError as exc:
            entry["channel"], entry["error"] = self.config.notify_url, str(exc)
        return entry


def _missing_reason(task: Task, gone: list[str], unmasked: list[str], columns: set[str],
                    present: list[str]) -> str:
    """Why a review task was made for classified columns a dataset does not have."""
    named = [f"{f} (classified {', '.join('pii.' + k for k in task.keys[f])})" for f in gone]
    named += [f"{f} (classified PII, to be masked)" for f in unmasked]
    done = (f"; the subject's rows are {task.action}d by {', '.join(present)} in task {task.id}"
            if present else "; it has no identifier column left to find the subject by")
    return (f"{task.name} has no column {', '.join(named)}: it has {', '.join(sorted(columns))}"
            f"{done}. Find any of the subject's data by hand where that column's values are "
            "now (renamed?), fix the classification or the dataset's schema in the catalog, "
            "and close this task with a note")
