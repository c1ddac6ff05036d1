"""The attempts rule: retries under one runId, told apart by try number or by transitions."""

from __future__ import annotations

import itertools

from headwater.catalog.attempts import Transition, attempts, from_payload, try_number


def t(second: int, event_type: str, error: str | None = None, n: int | None = None) -> Transition:
    state = {"START": "RUNNING", "RUNNING": "RUNNING", "COMPLETE": "COMPLETED", "FAIL": "FAILED",
             "ABORT": "ABORTED", "OTHER": "OTHER"}[event_type]
    return Transition(f"2026-03-01T10:00:{second:02d}", event_type, state, error, n)


def test_a_start_after_the_end_opens_the_next_attempt_in_any_order() -> None:
    events = [t(1, "START"), t(2, "FAIL", "boom"), t(3, "START"), t(4, "RUNNING"),
              t(5, "COMPLETE")]
    for order in itertools.permutations(events):
        found = attempts(order)
        assert [(a.number, a.state, a.error_message, (a.started_at or "")[-2:],
                 (a.ended_at or "")[-2:]) for a in found] == [
            (1, "FAILED", "boom", "01", "02"), (2, "COMPLETED", None, "03", "05")]


def test_a_late_update_of_an_ended_attempt_stays_in_it() -> None:
    found = attempts([t(1, "START"), t(2, "COMPLETE"), t(3, "RUNNING"), t(4, "OTHER")])
    assert [(a.number, a.state) for a in found] == [(1, "COMPLETED")]


def test_try_numbers_win_over_transitions() -> None:
    # Try 2 without a START of its own, and an unnumbered event after it.
    found = attempts([t(1, "START", n=1), t(2, "FAIL", "x", n=1), t(3, "FAIL", "y", n=2),
                      t(4, "OTHER")])
    assert [(a.number, a.state, a.error_message) for a in found] == [
        (1, "FAILED", "x"), (2, "FAILED", "y")]


def test_try_number_is_read_only_where_it_is_a_positive_int() -> None:
    assert try_number({"airflow": {"taskInstance": {"try_number": 3}}}) == 3
    for bad in ({}, {"airflow": "x"}, {"airflow": {"taskInstance": {"try_number": "3"}}},
                {"airflow": {"taskInstance": {"try_number": 0}}},
                {"airflow": {"taskInstance": {"try_number": True}}}):
        assert try_number(bad) is None


def test_from_payload_reads_a_stored_event_and_skips_others() -> None:
    payload = (b'{"eventType":"FAIL","run":{"runId":"r1","facets":{"errorMessage":'
               b'{"message":"boom"},"airflow":{"taskInstance":{"try_number":2}}}}}')
    assert from_payload(payload, "T") == ("r1", Transition("T", "FAIL", "FAILED", "boom", 2))
    assert from_payload(b'{"dataset":{}}', "T") is None
    assert from_payload(b"not json", "T") is None
