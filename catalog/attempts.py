"""A run's attempts, from the state transitions its events reported (backend-free rule).

Orchestrators retry a task under the same runId (Airflow reuses it for every try): try 1
FAILs, try 2 STARTs and COMPLETEs. Which attempt an event belongs to comes from the producer
where it says so (the ``airflow`` run facet's ``taskInstance.try_number``), else from the
transitions themselves: a START after the current attempt reached a terminal state opens the
next one. Events are taken in event-time order, so the answer is the same whatever order they
arrived in. The run's own state and error are its latest attempt's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from headwater.catalog.rules import EVENT_TYPE_STATE, TERMINAL_STATES, state_wins

# Same event time: a start is before an update, which is before an end.
_ORDER = {"START": 0, "RUNNING": 1, "OTHER": 2, "COMPLETE": 3, "FAIL": 3, "ABORT": 3}


@dataclass(frozen=True, slots=True)
class Transition:
    """What one run event said about the run's state."""

    event_time: str
    event_type: str | None
    state: str | None
    error_message: str | None = None
    try_number: int | None = None  # from the producer (Airflow), when it says


@dataclass(slots=True)
class Attempt:
    number: int
    state: str
    started_at: str | None
    ended_at: str | None
    error_message: str | None
    state_time: str | None = None


def try_number(facets: Mapping[str, Any]) -> int | None:
    """The try an event belongs to, where its run facets say: Airflow's OpenLineage provider
    sends ``airflow.taskInstance.try_number``. Anything else (absent, not a positive int) is
    None, and the attempt is inferred from the transitions."""
    airflow = facets.get("airflow")
    task = airflow.get("taskInstance") if isinstance(airflow, dict) else None
    n = task.get("try_number") if isinstance(task, dict) else None
    return n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else None


def attempts(transitions: Iterable[Transition]) -> list[Attempt]:
    """The run's attempts, oldest first (empty when there are no transitions)."""
    ordered = sorted(transitions, key=lambda t: (t.event_time, _ORDER.get(t.event_type or "", 2)))
    explicit = any(t.try_number is not None for t in ordered)
    out: list[Attempt] = []
    by_number: dict[int, Attempt] = {}
    for t in ordered:
        if explicit:
            # An event without a number belongs to the try of the latest numbered one before it.
            number = t.try_number or (out[-1].number if out else 1)
        elif not out or (t.event_type == "START" and out[-1].state in TERMINAL_STATES):
            number = len(out) + 1
        else:
            number = out[-1].number
        a = by_number.get(number)
        if a is None:
            a = by_number[number] = Attempt(number, "NEW", None, None, None)
            out.append(a)
        if t.event_type == "START" and (a.started_at is None or t.event_time < a.started_at):
            a.started_at = t.event_time
        if state_wins(t.state, t.event_time, a.state, a.state_time):
            a.state, a.state_time = t.state or a.state, t.event_time
            a.ended_at = t.event_time if a.state in TERMINAL_STATES else None
        if t.error_message is not None:
            a.error_message = t.error_message
    out.sort(key=lambda a: a.number)
    return out


def from_payload(payload: bytes | str, event_time: str) -> tuple[str, Transition] | None:
    """(run id, transition) of a stored run event's raw payload, for runs stored before
    transitions were kept (the schema migration replays them); None if it names no run."""
    try:
        event = orjson.loads(payload)
        run = event["run"]
        facets = run.get("facets") or {}
        error = facets.get("errorMessage")
        event_type = event.get("eventType")
        return str(run["runId"]), Transition(
            event_time, event_type, EVENT_TYPE_STATE.get(event_type or "OTHER"),
            error.get("message") if isinstance(error, dict) else None, try_number(facets))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
