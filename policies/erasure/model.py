"""An erasure request and its tasks: the durable state machine, kept in the store as one
JSON document per request (written compare-and-set) beside an append-only audit trail.

Request: RECEIVED → PLANNED → RUNNING → COMPLETED | PARTIAL | FAILED.
Task: pending → running → done, or → retrying → … → failed (attempts exhausted);
webhook tasks wait for the recipient's callback (``waiting``); ``exempt`` tasks keep the data
with a legal basis; ``review`` tasks wait for a steward to close them with a note (``closed``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

import orjson

REQUEST_STATES = ("RECEIVED", "PLANNED", "RUNNING", "COMPLETED", "PARTIAL", "FAILED")
ACTIVE = ("RECEIVED", "PLANNED", "RUNNING")
OPEN_TASK = ("pending", "running", "retrying", "waiting")
FINISHED_TASK = ("done", "exempt", "closed")


def now() -> datetime:
    return datetime.now(UTC)


def iso(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


@dataclass
class Task:
    id: str
    dataset: str
    namespace: str
    name: str
    action: str                      # delete | anonymise | keep | review
    status: str                      # see the module docstring
    keys: dict[str, list[str]] = field(default_factory=dict)  # field -> identifier kinds
    mask_fields: list[str] = field(default_factory=list)
    strategy: str | None = None
    connector: str | None = None     # postgres | sqlite | file | webhook | None (manual)
    exemption: str | None = None     # the legal basis when exempt
    review_reason: str | None = None
    upstream: list[str] = field(default_factory=list)  # plan datasets this one derives from
    owners: list[str] = field(default_factory=list)
    attempts: int = 0
    max_attempts: int = 5
    rows_found: int | None = None    # counted before the current attempt changed anything
    rows_affected: int | None = None
    remaining: int | None = None     # what verification found left
    next_attempt_at: str | None = None
    waiting_until: str | None = None
    callback_hash: str | None = None
    last_error: str | None = None
    note: str | None = None


@dataclass
class Request:
    id: str
    status: str
    jurisdiction: str
    received_at: str
    deadline: str
    filed_by: str
    reason: str | None
    identifiers: list[dict[str, str]]     # [{"kind", "fingerprint"}]: never the clear value
    sealed: str | None                    # the clear values, encrypted, until completion
    version: int = 1
    tasks: list[Task] = field(default_factory=list)
    extension: dict[str, str] | None = None
    completed_at: str | None = None
    planning_error: str | None = None
    lease_owner: str | None = None
    lease_until: str | None = None
    audit_seq: int = 0
    audit_head: str = ""

    @property
    def kinds(self) -> list[str]:
        return sorted({i["kind"] for i in self.identifiers})

    def task(self, task_id: str) -> Task | None:
        return next((t for t in self.tasks if t.id == task_id), None)

    def settled_status(self) -> str:
        """What the tasks say the request is, once planned."""
        states = {t.status for t in self.tasks}
        if states & set(OPEN_TASK):
            return "RUNNING"
        if "failed" in states:
            return "FAILED"
        if "review" in states:
            return "PARTIAL"
        return "COMPLETED"

    def overdue(self, at: datetime | None = None) -> bool:
        done = parse_iso(self.completed_at) if self.completed_at else (at or now())
        return done > parse_iso(self.deadline)

    # -- the stored document ---------------------------------------------------------------
    def to_doc(self) -> dict[str, Any]:
        doc = {_camel(k): v for k, v in asdict(self).items()}
        doc["tasks"] = [{_camel(k): v for k, v in asdict(t).items()} for t in self.tasks]
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Request:
        names = {f.name for f in fields(cls)}
        task_names = {f.name for f in fields(Task)}
        values = {_snake(k): v for k, v in doc.items() if _snake(k) in names}
        values["tasks"] = [Task(**{_snake(k): v for k, v in t.items() if _snake(k) in task_names})
                           for t in doc.get("tasks", [])]
        return cls(**values)

    def chain(self, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Number the new audit entries and link each to the previous one by hash, so a
        removed or altered entry shows (tamper-evident, beside the store's append-only table)."""
        chained = []
        for entry in entries:
            self.audit_seq += 1
            body = {"seq": self.audit_seq, "requestId": self.id, **entry, "prev": self.audit_head}
            body["hash"] = hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()
            self.audit_head = body["hash"]
            chained.append(body)
        return chained


def verify_chain(entries: list[dict[str, Any]]) -> bool:
    prev = ""
    for e in entries:
        body = {k: v for k, v in e.items() if k != "hash"}
        if body.get("prev") != prev or e.get("hash") != hashlib.sha256(
                orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest():
            return False
        prev = e["hash"]
    return True


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()
