"""Deadlines, subject protection and the audit chain: the rules a privacy officer relies on."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from headwater.policies.erasure.deadlines import DEFAULT_RULES, add_duration, rules_from
from headwater.policies.erasure.model import Request, Task, check_chain
from headwater.policies.erasure.subject import SubjectVault


@pytest.mark.parametrize(("received", "duration", "due"), [
    ("2027-01-31T09:00", "P1M", "2027-02-28T09:00"),   # calendar month, clamped to month end
    ("2028-01-31T09:00", "P1M", "2028-02-29T09:00"),   # leap year
    ("2026-03-15T09:00", "P1M", "2026-04-15T09:00"),
    ("2026-11-30T09:00", "P3M", "2027-02-28T09:00"),   # month + two-month extension
    ("2026-11-25T09:00", "P45D", "2027-01-09T09:00"),  # CCPA counts days
])
def test_deadlines_use_calendar_arithmetic(received: str, duration: str, due: str) -> None:
    assert add_duration(datetime.fromisoformat(received), duration) == datetime.fromisoformat(due)


def test_jurisdictions_are_configurable_and_bad_durations_rejected() -> None:
    rules = rules_from({"lgpd": ["P15D", "P0D"]})
    assert rules["LGPD"].respond_within == "P15D" and rules["GDPR"] == DEFAULT_RULES["GDPR"]
    with pytest.raises(ValueError, match="ISO 8601"):
        rules_from({"X": ["30 days", "P0D"]})


def test_identifiers_are_fingerprinted_with_a_key_and_sealed() -> None:
    vault, other = SubjectVault(b"k1" * 16), SubjectVault(b"k2" * 16)
    fp = vault.fingerprint("email", "a@b.c")
    assert fp == vault.fingerprint("email", "a@b.c") != other.fingerprint("email", "a@b.c")
    assert "a@b.c" not in fp
    sealed = vault.seal({"email": ["a@b.c"]})
    assert "a@b.c" not in sealed and vault.open(sealed) == {"email": ["a@b.c"]}
    with pytest.raises(ValueError, match="secret key changed"):
        other.open(sealed)


def test_request_document_round_trips_and_audit_chain_detects_tampering() -> None:
    now = datetime.now(UTC).isoformat()
    req = Request(id="r1", status="RECEIVED", jurisdiction="GDPR", received_at=now,
                  deadline=now, filed_by="steward", reason=None,
                  identifiers=[{"kind": "email", "fingerprint": "hmac-sha256:00"}], sealed="x",
                  tasks=[Task(id="t1", dataset="dataset:a:b", namespace="a", name="b",
                              action="delete", status="pending", keys={"email": ["email"]})])
    assert Request.from_doc(req.to_doc()) == req
    key = b"audit-key" * 4
    entries = req.chain([{"event": "filed"}, {"event": "planned"}, {"event": "task_done"}], key)
    assert Request.from_doc(req.to_doc()) == req
    assert [e["seq"] for e in entries] == [1, 2, 3]
    assert check_chain(req, entries, key).verified
    assert not check_chain(req, [entries[0], entries[2]], key).verified, "a removed entry must show"
    assert not check_chain(req, [entries[0], {**entries[1], "event": "exempt"}, entries[2]],
                           key).verified
    assert not check_chain(req, entries[:2], key).verified, "so must a removed last one"
    assert not check_chain(req, entries, b"another key").verified, "the chain is keyed"
    with pytest.raises(ValueError, match="audit key"):
        req.chain([{"event": "x"}], b"")
