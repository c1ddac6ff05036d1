"""Shared fixtures: every store behaviour runs on both backends against real databases."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from headwater.catalog import Store, open_store

BACKENDS = ["embedded", "neo4j"]


@pytest.fixture(scope="session")
def neo4j_service() -> Iterator[dict[str, str]]:
    """A real Neo4j: the one named by HEADWATER_NEO4J_URI, else one the harness starts.
    If it cannot start, the tests fail with the harness's reason: they never skip."""
    from tests.harness.services import ensure_neo4j

    service = ensure_neo4j()
    try:
        yield service.env
    finally:
        service.stop()


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """A real PostgreSQL (HEADWATER_TEST_POSTGRES_DSN, else one the harness starts)."""
    from tests.harness.services import ensure_postgres

    service = ensure_postgres()
    try:
        yield service.env["HEADWATER_TEST_POSTGRES_DSN"]
    finally:
        service.stop()


def _wipe_neo4j(env: dict[str, str]) -> None:
    import neo4j

    user, password = env.get("HEADWATER_NEO4J_USER"), env.get("HEADWATER_NEO4J_PASSWORD")
    auth = (user, password) if user else None
    # An auto-commit session: CALL ... IN TRANSACTIONS deletes a big graph in batches.
    with (neo4j.GraphDatabase.driver(env["HEADWATER_NEO4J_URI"], auth=auth) as driver,
          driver.session() as session):
        session.run("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS").consume()


def make_store(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Store:
    if kind == "embedded":
        return open_store("embedded", path=tmp_path / "headwater.db")
    env = request.getfixturevalue("neo4j_service")
    _wipe_neo4j(env)
    return open_store("neo4j", uri=env["HEADWATER_NEO4J_URI"],
                      user=env.get("HEADWATER_NEO4J_USER"),
                      password=env.get("HEADWATER_NEO4J_PASSWORD"))


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s = make_store(request.param, tmp_path, request)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # HEADWATER_TEST_BACKENDS=embedded narrows a quick local run; CI runs both.
    wanted = os.environ.get("HEADWATER_TEST_BACKENDS")
    if not wanted:
        return
    keep = set(wanted.split(","))

    def backend_of(item: pytest.Item) -> str | None:
        params = getattr(item, "callspec", None)
        if params is None:
            return None
        found = params.params.get("store", params.params.get("backend",
                                                             params.params.get("graph_store")))
        return found[0] if isinstance(found, tuple) else found  # (backend, variant)

    items[:] = [i for i in items if backend_of(i) in keep | {None}]
