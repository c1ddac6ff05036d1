"""An erasure request and its tasks: the durable state machine, kept in the store as one
JSON document per request (written compare-and-set) beside an append-only audit trail.

Request: RECEIVED → PLANNED → RUNNING → COMPLETED | PARTIAL | FAILED.
Task: pending → running → done, or → retrying → … → failed (attempts exhausted);
webhook tasks wait for the recipient's callback (``waiting``); ``exempt`` tasks keep the data
with a legal basis; ``review`` tasks wait for a steward to close them with a note (``closed``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

import orjson

REQUEST_STATES = ("RECEIVED", "PLANNED", "RUNNING", "COMPLETED", "PARTIAL", "FAILED")
ACTIVE = ("RECEIVED", "PLANNED", "RUNNING")
OPEN_TASK = ("pending", "running", "retrying", "waiting")
FINISHED_TASK = ("done", "exempt", "closed")
AUDIT_ALG = "hmac-sha256"    # audit chains keyed with the server's secret
LEGACY_AUDIT_ALG = "sha256"  # the unkeyed chains of requests filed by 0.1.0


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
    audit_alg: str = AUDIT_ALG            # LEGACY_AUDIT_ALG for requests filed by 0.1.0
    audit_key: str | None = None          # which secret key keys the chain (its id, not it)

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
        if "auditAlg" not in doc:  # filed by 0.1.0: its chain stays what it was made as
            values["audit_alg"] = LEGACY_AUDIT_ALG
        return cls(**values)

    def chain(self, entries: list[dict[str, Any]], key: bytes, key_id: str | None = None
              ) -> list[dict[str, Any]]:
        """Number the new audit entries and link each to the previous one by a keyed hash
        (HMAC-SHA256 with the server's audit key), so an entry altered, removed, added or
        rewritten shows, even by someone who can write the store; the request document keeps
        the chain's length and head. A request filed by 0.1.0 goes on with its unkeyed chain:
        it is not upgraded behind the reader's back."""
        if self.audit_alg == AUDIT_ALG:
            if not key:
                raise ValueError("a keyed audit chain needs the server's audit key")
            if self.audit_key is None:
                self.audit_key = key_id
        chained = []
        for entry in entries:
            self.audit_seq += 1
            body = {"seq": self.audit_seq, "requestId": self.id, **entry, "prev": self.audit_head}
            if self.audit_alg != LEGACY_AUDIT_ALG:
                body["alg"] = self.audit_alg
            body["hash"] = _link(body, self.audit_alg, key)
            self.audit_head = body["hash"]
            chained.append(body)
        return chained


@dataclass(frozen=True)
class ChainCheck:
    """What reading an audit trail found. ``status``: ``verified`` (a keyed chain, intact and
    matching the length and head its request records), ``unkeyed`` (a 0.1.0 chain, intact, but
    anyone able to write the store could have rewritten it consistently) or ``broken``
    (``reason`` says where)."""

    status: str
    alg: str
    length: int
    head: str
    reason: str | None = None

    @property
    def verified(self) -> bool:
        return self.status == "verified"


def check_chain(req: Request, entries: list[dict[str, Any]], key: bytes,
                key_id: str | None = None, grown: Request | None = None) -> ChainCheck:
    """Check a request's audit entries (in seq order) against its chain: every entry in
    place, unaltered, linked to the one before, and as many as, ending where, the request
    document says.

    ``req`` is read before the entries, so a trail can only be longer than it records when a
    change was committed between the two reads: ``grown``, the request read again after the
    entries, then accounts for the entries beyond (the ones ``req`` records must still end at
    its head)."""
    alg, expected, head = req.audit_alg, req.audit_seq, req.audit_head

    def broken(reason: str) -> ChainCheck:
        return ChainCheck("broken", alg, len(entries), entries[-1].get("hash", "")
                          if entries else "", reason)

    if alg not in (AUDIT_ALG, LEGACY_AUDIT_ALG):
        return broken(f"the request names an unknown audit chain algorithm {alg!r}")
    if alg == LEGACY_AUDIT_ALG and req.audit_key is not None:
        return broken(f"the request names an audit key ({req.audit_key}) but its chain reads "
                      "as an unkeyed 0.1.0 one: it was rewritten")
    if alg == AUDIT_ALG and req.audit_key and key_id and req.audit_key != key_id:
        return broken(f"the chain was keyed with another secret key (key id {req.audit_key}; "
                      f"this server's is {key_id}): run with the HEADWATER_SECRET_KEY it was "
                      "written with to verify it")
    if not entries and not expected:
        return broken("the trail is empty, and the request records no entries: every request "
                      "has at least the entry of its filing")
    prev = ""
    for n, e in enumerate(entries, start=1):
        seq = e.get("seq")
        if seq != n:
            if isinstance(seq, int) and seq > n:
                gap = f"entry {n} is" if seq == n + 1 else f"entries {n}-{seq - 1} are"
                where = (f"the trail starts at entry {seq}" if n == 1
                         else f"the trail goes from entry {n - 1} to {seq}")
                return broken(f"{gap} missing ({where})")
            return broken(f"entry {n} is numbered {seq!r}: an entry was added or repeated")
        if e.get("requestId") != req.id:
            return broken(f"entry {n} belongs to request {e.get('requestId')!r}")
        marked = e.get("alg", LEGACY_AUDIT_ALG)
        if marked != alg:
            return broken(f"entry {n} is marked {marked} in a {alg} chain: it was rewritten")
        if e.get("prev") != prev:
            return broken(f"entry {n} does not follow entry {n - 1}: its link to the entry "
                          "before is wrong (an entry was replaced or the chain rewritten)")
        if e.get("hash") != _link({k: v for k, v in e.items() if k != "hash"}, alg, key):
            return broken(f"entry {n} ({e.get('event', '?')}) was altered: its content does not "
                          "match its " + ("keyed hash" if alg == AUDIT_ALG else "hash"))
        prev = str(e["hash"])
    if len(entries) < expected:
        more = (f"entry {expected} is" if len(entries) + 1 == expected
                else f"entries {len(entries) + 1}-{expected} are")
        return broken(f"{more} missing: the request records {expected} entries (head "
                      f"{head}), the trail holds {len(entries)}")
    if len(entries) > expected and not (
            grown is not None and grown.audit_seq >= len(entries) and expected
            and entries[expected - 1]["hash"] == head):
        added = len(entries) - expected
        return broken(f"{added} {'entry was' if added == 1 else 'entries were'} added after "
                      f"entry {expected}: the request records {expected} entries (head {head})")
    if len(entries) == expected and prev != head:
        return broken(f"the trail ends at hash {prev}, not at the head the request records "
                      f"({head}): the chain was rewritten")
    if alg == LEGACY_AUDIT_ALG:
        return ChainCheck("unkeyed", alg, len(entries), prev,
                          "unkeyed (made before keyed audit chains, by Headwater 0.1.0): intact "
                          "as a hash chain, but not proof against a rewrite")
    return ChainCheck("verified", alg, len(entries), prev)


def _link(body: dict[str, Any], alg: str, key: bytes) -> str:
    data = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    if alg == LEGACY_AUDIT_ALG:
        return hashlib.sha256(data).hexdigest()
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()
