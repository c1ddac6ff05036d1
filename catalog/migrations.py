"""Schema versions and the ordered steps between them, the same mechanism for both stores.

A store records the version its data is at. At start (and by ``headwater migrate``) the steps
after that version run in order, each in its own transaction together with the new version
number, so a crash between steps leaves a store at a known version that the next start
continues from. A store at a version newer than the code knows is refused, untouched: an older
Headwater must not write into a layout it does not understand.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from headwater.catalog.errors import SchemaTooNew

C = TypeVar("C")  # what a step acts on: a SQLite connection in a transaction, a Neo4j transaction


@dataclass(frozen=True)
class Step(Generic[C]):
    version: int  # the schema version this step brings the store to
    description: str
    apply: Callable[[C], None]


def pending(steps: Sequence[Step[C]], current: int, where: str) -> list[Step[C]]:
    """The steps to run from ``current``, in order; ``SchemaTooNew`` if ``current`` is past
    the last step. ``steps`` must be numbered 1, 2, 3... without gaps."""
    latest = len(steps)
    assert [s.version for s in steps] == list(range(1, latest + 1)), "steps must be 1..n"
    if current > latest:
        raise SchemaTooNew(
            f"{where} is at schema version {current}, but this Headwater knows versions up to "
            f"{latest}: it was written by a newer release. Upgrade Headwater (or point it at "
            "another data directory / database); nothing was changed.")
    return list(steps[current:])


def describe(step: Step[C]) -> str:
    return f"schema version {step.version}: {step.description}"
