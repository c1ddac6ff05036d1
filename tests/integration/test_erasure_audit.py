"""The erasure audit trail is checked on every read, against the server's key and the length and
head the request records: an entry edited, removed or added, or the whole chain rewritten with
the triggers dropped, is reported, with where. Both backends, tampered with directly."""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import neo4j
import orjson
import pytest

from headwater.catalog import Store
from headwater.policies.erasure.deadlines import rules_from
from headwater.policies.erasure.model import Request
from headwater.policies.erasure.service import Erasures
from headwater.policies.erasure.subject import SubjectVault

SECRET = b"an audit test secret of some length"
LEGACY = Path(__file__).parent / "fixtures" / "erasure-0.1.0.json"  # made by Headwater 0.1.0


class Tamper:
    """Someone with write access to the store, going around Headwater (and its triggers)."""

    def __init__(self, store: Store, tmp_path: Path, request: pytest.FixtureRequest) -> None:
        self.kind = "neo4j" if "neo4j" in type(store).__module__ else "embedded"
        if self.kind == "embedded":
            self.db = sqlite3.connect(tmp_path / "headwater.db", isolation_level=None)
            self.db.execute("DROP TRIGGER erasure_audit_no_update")
            self.db.execute("DROP TRIGGER erasure_audit_no_delete")
        else:
            env = request.getfixturevalue("neo4j_service")
            user = env.get("HEADWATER_NEO4J_USER")
            self.driver = neo4j.GraphDatabase.driver(
                env["HEADWATER_NEO4J_URI"],
                auth=(user, env.get("HEADWATER_NEO4J_PASSWORD")) if user else None)

    def close(self) -> None:
        (self.db if self.kind == "embedded" else self.driver).close()

    def _cypher(self, query: str, **params: Any) -> None:
        self.driver.execute_query(query, **params)

    def set_entry(self, request_id: str, entry: dict[str, Any]) -> None:
        if self.kind == "embedded":
            self.db.execute("UPDATE erasure_audit SET entry = ? WHERE request_id = ? AND seq = ?",
                            (orjson.dumps(entry), request_id, entry["seq"]))
        else:
            self._cypher("MATCH (a:ErasureAudit {requestId: $id, seq: $seq}) SET a.entry = $e",
                         id=request_id, seq=entry["seq"], e=orjson.dumps(entry).decode())

    def add_entry(self, request_id: str, entry: dict[str, Any]) -> None:
        if self.kind == "embedded":
            self.db.execute("INSERT INTO erasure_audit(request_id, seq, entry) VALUES (?,?,?)",
                            (request_id, entry["seq"], orjson.dumps(entry)))
        else:
            self._cypher("CREATE (:ErasureAudit {requestId: $id, seq: $seq, entry: $e})",
                         id=request_id, seq=entry["seq"], e=orjson.dumps(entry).decode())

    def delete_entry(self, request_id: str, seq: int) -> None:
        if self.kind == "embedded":
            self.db.execute("DELETE FROM erasure_audit WHERE request_id = ? AND seq = ?",
                            (request_id, seq))
        else:
            self._cypher("MATCH (a:ErasureAudit {requestId: $id, seq: $seq}) DELETE a",
                         id=request_id, seq=seq)

    def set_doc(self, doc: dict[str, Any]) -> None:
        if self.kind == "embedded":
            self.db.execute("UPDATE erasures SET doc = ? WHERE id = ?",
                            (orjson.dumps(doc), doc["id"]))
        else:
            self._cypher("MATCH (e:Erasure {id: $id}) SET e.doc = $doc", id=doc["id"],
                         doc=orjson.dumps(doc).decode())


@pytest.fixture
def erasures(store: Store) -> Erasures:
    return Erasures(store, SubjectVault(SECRET), rules_from({}))


@pytest.fixture
def tamper(store: Store, tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    t = Tamper(store, tmp_path, request)
    try:
        yield t
    finally:
        t.close()


def filed(erasures: Erasures) -> Request:
    """A request with four audit entries."""
    req = erasures.file([("email", "a@example.com")], "GDPR", "ticket 7", "steward")
    erasures.extend(req.id, "records in 40 systems", "steward")
    for n in (1, 2):
        erasures.update(req.id, lambda r, n=n: [{"at": "2026-12-01T00:00:00Z", "actor": "w",
                                                 "event": f"step{n}"}])
    return erasures.get(req.id)


def unkeyed_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def test_a_good_chain_verifies_with_its_length_and_head(erasures: Erasures) -> None:
    req = filed(erasures)
    audit = erasures.audit(req.id)
    assert (audit.check.status, audit.check.verified, audit.check.reason) == (
        "verified", True, None)
    assert (audit.check.length, audit.check.head) == (4, req.audit_head)
    assert [e["alg"] for e in audit.entries] == ["hmac-sha256"] * 4
    assert req.to_doc()["auditAlg"] == "hmac-sha256"


def test_an_edited_entry_is_detected(erasures: Erasures, tamper: Tamper) -> None:
    req = filed(erasures)
    entry = erasures.audit(req.id).entries[1]
    tamper.set_entry(req.id, {**entry, "reason": "no reason at all"})  # hash kept as it was
    check = erasures.audit(req.id).check
    assert not check.verified and check.status == "broken"
    assert check.reason is not None and "entry 2 (deadline_extended) was altered" in check.reason


def test_a_deleted_last_entry_is_detected(erasures: Erasures, tamper: Tamper) -> None:
    req = filed(erasures)
    tamper.delete_entry(req.id, 4)
    check = erasures.audit(req.id).check
    assert not check.verified
    assert check.reason is not None and check.reason.startswith("entry 4 is missing")
    assert check.length == 3


def test_a_deleted_middle_entry_and_an_added_entry_are_detected(
        erasures: Erasures, tamper: Tamper) -> None:
    req = filed(erasures)
    tamper.delete_entry(req.id, 2)
    reason = erasures.audit(req.id).check.reason
    assert reason is not None and reason.startswith("entry 2 is missing")

    other = filed(erasures)
    last = erasures.audit(other.id).entries[-1]
    extra = {"seq": 5, "requestId": other.id, "event": "exempt", "prev": last["hash"],
             "alg": "hmac-sha256"}
    tamper.add_entry(other.id, {**extra, "hash": unkeyed_hash(extra)})
    reason = erasures.audit(other.id).check.reason
    assert reason is not None and "entry 5 (exempt) was altered" in reason

    # Even an entry keyed right (as by someone holding the key) is one more than the
    # request records.
    third = filed(erasures)
    last = erasures.audit(third.id).entries[-1]
    extra = {**extra, "requestId": third.id, "prev": last["hash"]}
    keyed = hmac.new(erasures.vault.audit_key, orjson.dumps(extra, option=orjson.OPT_SORT_KEYS),
                     hashlib.sha256).hexdigest()
    tamper.add_entry(third.id, {**extra, "hash": keyed})
    reason = erasures.audit(third.id).check.reason
    assert reason is not None and reason.startswith("1 entry was added after entry 4")


def test_a_rewritten_chain_with_recomputed_unkeyed_hashes_is_detected(
        erasures: Erasures, tamper: Tamper) -> None:
    req = filed(erasures)
    entries = erasures.audit(req.id).entries
    # Rewrite entry 2 and every later one, relinking with SHA-256 as the 0.1.0 chain did, and
    # record the new head in the request: a plain hash chain would verify.
    entries[1]["reason"] = "rewritten"
    prev = entries[0]["hash"]
    for e in entries[1:]:
        e["prev"] = prev
        e["hash"] = prev = unkeyed_hash({k: v for k, v in e.items() if k != "hash"})
        tamper.set_entry(req.id, e)
    doc = erasures.store.erasure(req.id)
    assert doc is not None
    tamper.set_doc({**doc, "auditHead": prev})
    check = erasures.audit(req.id).check
    assert not check.verified
    assert check.reason is not None and "entry 2 (deadline_extended) was altered" in check.reason

    # Rewritten as a whole 0.1.0 chain (the algorithm marks dropped, in entries and request):
    # at best it reads as unkeyed, never as verified.
    prev = ""
    for e in entries:
        e.pop("alg")
        e["prev"] = prev
        e["hash"] = prev = unkeyed_hash({k: v for k, v in e.items() if k != "hash"})
        tamper.set_entry(req.id, e)
    tamper.set_doc({**{k: v for k, v in doc.items() if k != "auditAlg"}, "auditHead": prev})
    check = erasures.audit(req.id).check
    assert check.status == "broken" and "names an audit key" in (check.reason or "")
    doc = {k: v for k, v in doc.items() if k not in ("auditAlg", "auditKey")}
    tamper.set_doc({**doc, "auditHead": prev})
    check = erasures.audit(req.id).check
    assert check.status == "unkeyed" and not check.verified


def test_a_chain_read_under_another_secret_says_so(erasures: Erasures, store: Store) -> None:
    req = filed(erasures)
    check = Erasures(store, SubjectVault(b"another secret"), rules_from({})).audit(req.id).check
    assert not check.verified
    assert check.reason is not None and "another secret key" in check.reason
    assert "HEADWATER_SECRET_KEY" in check.reason


def test_a_0_1_0_request_verifies_as_unkeyed_and_stays_so(
        erasures: Erasures, store: Store, tamper: Tamper) -> None:
    legacy = json.loads(LEGACY.read_text())
    store.create_erasure(legacy["doc"], legacy["audit"])
    rid = legacy["doc"]["id"]
    audit = erasures.audit(rid)
    assert (audit.check.status, audit.check.alg, audit.check.length) == ("unkeyed", "sha256", 2)
    assert audit.check.reason is not None and audit.check.reason.startswith(
        "unkeyed (made before keyed audit chains")
    assert not audit.check.verified

    # Changed after the upgrade: the chain goes on as it was made, not silently upgraded.
    erasures.update(rid, lambda r: [{"at": "2026-12-01T00:00:00Z", "actor": "w",
                                     "event": "planning_deferred"}])
    audit = erasures.audit(rid)
    assert (audit.check.status, audit.check.length) == ("unkeyed", 3)
    assert "alg" not in audit.entries[-1]
    assert (store.erasure(rid) or {})["auditAlg"] == "sha256", "marked for what it is"

    # And checked the old way: an edit shows.
    tamper.set_entry(rid, {**audit.entries[0], "reason": "edited"})
    check = erasures.audit(rid).check
    assert check.status == "broken" and "entry 1 (filed) was altered" in (check.reason or "")


def test_reads_beside_writes_never_see_a_broken_chain(erasures: Erasures) -> None:
    req = filed(erasures)
    stop = threading.Event()
    written = [0]

    def write() -> None:
        while not stop.is_set():
            erasures.update(req.id, lambda r: [{"at": "x", "actor": "w", "event": "tick"}])
            written[0] += 1

    writer = threading.Thread(target=write)
    writer.start()
    checks = []
    deadline = time.monotonic() + 60
    try:
        # At least 150 reads, and until the writer has written several entries meanwhile (on
        # a loaded machine it may get few turns during the first reads).
        while (len(checks) < 150 or written[0] < 5) and time.monotonic() < deadline:
            checks.append(erasures.audit(req.id).check)
    finally:
        stop.set()
        writer.join()
    assert [c.reason for c in checks if not c.verified] == []
    assert written[0] >= 5, "the writer was writing meanwhile"
