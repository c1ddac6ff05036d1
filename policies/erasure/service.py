"""Erasure requests: filing, reading, and the changes stewards and recipients make.

Every change is one compare-and-set write of the request document plus its audit entries, in
one store transaction, retried on conflict (the worker may be writing the same request).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from prometheus_client import Histogram

from headwater.catalog import Store, StoreError
from headwater.catalog.errors import Conflict, Forbidden, Invalid, NotFound
from headwater.policies.erasure.deadlines import Rule, add_duration
from headwater.policies.erasure.model import (
    ACTIVE,
    REQUEST_STATES,
    ChainCheck,
    Request,
    check_chain,
    iso,
    now,
    parse_iso,
)
from headwater.policies.erasure.subject import SubjectVault

KIND = re.compile(r"^[a-z][a-z0-9_]*$")
CALLBACK_REFUSED = ("unknown request or task, or wrong callback token: answer on the "
                    "callbackUrl with the callbackToken of the latest instruction")
_NO_TOKEN = "0" * 64  # compared against when there is no token to compare with
COMPLETION_SECONDS = Histogram("headwater_erasure_completion_seconds",
                               "Time from receipt to completion of erasure requests",
                               buckets=(60, 600, 3600, 86400, 7 * 86400, 30 * 86400, 90 * 86400))


@dataclass(frozen=True)
class Audit:
    """A request's audit trail as read, and what checking its chain found."""

    request_id: str
    entries: list[dict[str, Any]]
    check: ChainCheck


@dataclass
class Erasures:
    store: Store
    vault: SubjectVault
    rules: dict[str, Rule]

    # -- filing and reading ----------------------------------------------------------------
    def file(self, identifiers: list[tuple[str, str]], jurisdiction: str, reason: str | None,
             filed_by: str) -> Request:
        if not identifiers:
            raise Invalid.one("name the subject by at least one identifier, e.g. "
                               "{\"kind\": \"email\", \"value\": \"a@b.c\"}")
        clear: dict[str, list[str]] = {}
        for kind, value in identifiers:
            if not KIND.match(kind):
                raise Invalid.one(f"identifier kind {kind!r} must be a lower-case name such "
                                   "as email or customer_id (it matches the pii.<kind> "
                                   "classification)")
            if not value.strip():
                raise Invalid.one(f"the {kind} identifier has an empty value")
            clear.setdefault(kind, [])
            if value not in clear[kind]:
                clear[kind].append(value)
        rule = self.rules.get(jurisdiction.upper())
        if rule is None:
            raise Invalid.one(f"unknown jurisdiction {jurisdiction!r}: choose one of "
                               f"{', '.join(sorted(self.rules))} (or configure it in "
                               "HEADWATER_ERASURE_DEADLINES)")
        received = now()
        req = Request(
            id=str(uuid.uuid4()), status="RECEIVED", jurisdiction=jurisdiction.upper(),
            received_at=iso(received), deadline=iso(add_duration(received, rule.respond_within)),
            filed_by=filed_by, reason=reason,
            identifiers=[{"kind": k, "fingerprint": self.vault.fingerprint(k, v)}
                         for k, vs in sorted(clear.items()) for v in vs],
            sealed=self.vault.seal(clear))
        entries = self._chain(req, [{"at": req.received_at, "actor": filed_by, "event": "filed",
                                     "jurisdiction": req.jurisdiction, "deadline": req.deadline,
                                     "reason": reason, "identifiers": req.identifiers}])
        self.store.create_erasure(req.to_doc(), entries)
        return req

    def get(self, request_id: str) -> Request:
        doc = self.store.erasure(request_id)
        if doc is None:
            raise NotFound(f"no erasure request {request_id!r}: use the id that filing "
                               "returned")
        return Request.from_doc(doc)

    def requests(self, status: str | None = None, first: int = 50) -> list[Request]:
        """Oldest received first; only those in ``status`` when given."""
        if status is not None and status not in REQUEST_STATES:
            raise Invalid.one(f"status must be one of {', '.join(REQUEST_STATES)}")
        return [Request.from_doc(d) for d in self.store.erasures([status] if status else None,
                                                                   first)]

    def audit(self, request_id: str) -> Audit:
        """The audit trail, checked on every read against the chain's key and the length and
        head the request records. The request is read first: a change committed before the
        trail is read shows as entries beyond what it records, and the request read again
        must then record them."""
        req = self.get(request_id)
        entries = self.store.erasure_audit(request_id)
        for pause in (0.0, 0.01, 0.1):
            if len(entries) >= req.audit_seq:
                break
            # Neo4j makes a commit visible node by node (read committed): a request read as
            # a change is applied may record an entry the trail read just after lacks for a
            # moment. An entry that was deleted stays missing, and the check reports it.
            time.sleep(pause)
            entries = self.store.erasure_audit(request_id)
        key, key_id = self.vault.audit_key, self.vault.audit_key_id
        check = check_chain(req, entries, key, key_id)
        if check.status == "broken" and len(entries) > req.audit_seq:
            check = check_chain(req, entries, key, key_id, grown=self.get(request_id))
        return Audit(request_id, entries, check)

    def _chain(self, req: Request, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return req.chain(entries, self.vault.audit_key, self.vault.audit_key_id)

    def unfinished(self) -> list[Request]:
        """Every request not COMPLETED: being worked on, or waiting for a steward."""
        return [Request.from_doc(d) for d in self.store.erasures(
            (*ACTIVE, "PARTIAL", "FAILED"), first=10_000)]

    # -- changes ---------------------------------------------------------------------------
    def update(self, request_id: str,
               change: Callable[[Request], list[dict[str, Any]] | None],
               attempts: int = 20) -> Request:
        """Apply ``change`` (which mutates the request and returns its audit entries, or
        ``None`` when there is nothing to write) with compare-and-set, re-reading and
        re-applying when another writer came first."""
        for _ in range(attempts):
            req = self.get(request_id)
            expected = req.version
            entries = change(req)
            if entries is None:
                return req
            req.version = expected + 1
            chained = self._chain(req, entries)  # numbers them: before the document is dumped
            if self.store.update_erasure(req.to_doc(), expected, chained):
                return req
        raise StoreError(f"erasure request {request_id} is being changed by others; try again")

    def extend(self, request_id: str, reason: str, by: str) -> Request:
        if not reason.strip():
            raise Invalid.one("an extension needs a reason (GDPR Art. 12(3): the subject "
                               "must be told why)")

        def change(req: Request) -> list[dict[str, Any]]:
            if req.status not in ACTIVE + ("PARTIAL", "FAILED"):
                raise Conflict(f"the request is {req.status}: nothing to extend")
            if req.extension:
                raise Conflict("this request was already extended once; it cannot be "
                                   "extended again")
            if now() > parse_iso(req.deadline):
                raise Conflict(f"the deadline {req.deadline} has passed: an extension "
                                   "must be decided before it")
            rule = self.rules[req.jurisdiction]
            old = req.deadline
            req.deadline = iso(add_duration(parse_iso(old), rule.extension))
            req.extension = {"reason": reason, "by": by, "at": iso(now()), "previousDeadline": old}
            return [{"at": iso(now()), "actor": by, "event": "deadline_extended",
                     "reason": reason, "previousDeadline": old, "deadline": req.deadline}]

        return self.update(request_id, change)

    def retry(self, request_id: str, by: str, max_attempts: int) -> Request:
        def change(req: Request) -> list[dict[str, Any]]:
            failed = [t for t in req.tasks if t.status == "failed"]
            if req.status != "FAILED" or not failed:
                raise Conflict(f"the request is {req.status}: only a FAILED request "
                                   "can be retried")
            for t in failed:
                t.status, t.next_attempt_at, t.max_attempts = "pending", None, t.attempts + max_attempts
            req.status = "RUNNING"
            return [{"at": iso(now()), "actor": by, "event": "retried",
                     "tasks": [t.id for t in failed]}]

        return self.update(request_id, change)

    def close_review(self, request_id: str, task_id: str, note: str, by: str) -> Request:
        if not note.strip():
            raise Invalid.one("closing a review needs a note: what was checked or erased, "
                               "as evidence")

        def change(req: Request) -> list[dict[str, Any]]:
            task = req.task(task_id)
            if task is None:
                raise NotFound(f"request {request_id} has no task {task_id!r}")
            if task.status != "review":
                raise Conflict(f"task {task_id} is {task.status}, not awaiting review")
            task.status, task.note = "closed", note
            entries = [{"at": iso(now()), "actor": by, "event": "review_closed", "task": task_id,
                        "dataset": task.dataset, "note": note}]
            return entries + self.settle(req, by)

        return self.update(request_id, change)

    def callback(self, request_id: str, task_id: str, token: str, ok: bool,
                 rows: int | None, message: str | None) -> Request:
        """A webhook recipient reports the outcome of an instruction.

        The caller is not authenticated but by the token, so an unknown request, an unknown
        task and a wrong token are refused alike (same error, same work): the answer must not
        tell a stranger which request ids exist."""
        digest = hashlib.sha256(token.encode()).hexdigest()

        def change(req: Request) -> list[dict[str, Any]]:
            task = req.task(task_id)
            expected = task.callback_hash if task is not None and task.callback_hash else None
            if (not hmac.compare_digest(digest, expected or _NO_TOKEN) or expected is None
                    or task is None):
                raise Forbidden(CALLBACK_REFUSED)
            if task.status != "waiting":
                raise Conflict(f"task {task_id} is {task.status}, not waiting for a "
                                   "callback")
            entry: dict[str, Any] = {"at": iso(now()), "actor": "webhook", "event": "callback",
                                     "task": task_id, "dataset": task.dataset, "ok": ok,
                                     "rowsAffected": rows, "message": message}
            task.callback_hash, task.waiting_until = None, None
            if ok:
                task.status, task.rows_affected, task.last_error = "done", rows, None
                return [entry] + self.settle(req, "webhook")
            return [entry] + fail_attempt(task, f"the recipient reported a failure: {message}")

        try:
            return self.update(request_id, change)
        except NotFound:
            hmac.compare_digest(digest, _NO_TOKEN)  # the work a known request costs
            raise Forbidden(CALLBACK_REFUSED) from None

    @staticmethod
    def settle(req: Request, actor: str) -> list[dict[str, Any]]:
        """Set the request's status from its tasks; on completion drop the clear identifiers."""
        if req.status not in ("PLANNED", "RUNNING", "PARTIAL", "FAILED"):
            return []
        status = req.settled_status()
        if status == req.status:
            return []
        req.status = status
        entries: list[dict[str, Any]] = [{"at": iso(now()), "actor": actor, "event": "status",
                                          "status": status}]
        if status == "COMPLETED":
            req.completed_at, req.sealed = iso(now()), None
            req.lease_owner = req.lease_until = None
            COMPLETION_SECONDS.observe(
                (parse_iso(req.completed_at) - parse_iso(req.received_at)).total_seconds())
            entries.append({"at": req.completed_at, "actor": actor, "event": "identifiers_dropped",
                            "overdue": req.overdue()})
        return entries


def fail_attempt(task: Any, error: str, backoff: float = 5.0) -> list[dict[str, Any]]:
    """Record a failed attempt: retry later with exponential backoff, or give up."""
    task.last_error = error[:2000]
    entry: dict[str, Any] = {"at": iso(now()), "actor": "worker", "event": "attempt_failed",
                             "task": task.id, "dataset": task.dataset, "attempt": task.attempts,
                             "error": task.last_error}
    if task.attempts >= task.max_attempts:
        task.status, task.next_attempt_at = "failed", None
        entry["gaveUp"] = True
    else:
        task.status = "retrying"
        delay = min(backoff * 2 ** max(task.attempts - 1, 0), 3600.0)
        task.next_attempt_at = iso(now() + timedelta(seconds=delay))
        entry["nextAttemptAt"] = task.next_attempt_at
    return [entry]
