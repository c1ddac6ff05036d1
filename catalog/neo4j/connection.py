"""The driver, reads, and the one write-transaction helper every write goes through."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import neo4j
from neo4j.exceptions import DriverError, Neo4jError, ServiceUnavailable, SessionExpired
from neo4j.graph import Node

from headwater.catalog.errors import StoreError

T = TypeVar("T")
# Reads run beside the caller's own (``Connection._read_beside``); a few threads, shared.
_BESIDE = ThreadPoolExecutor(max_workers=4, thread_name_prefix="neo4j-beside")
_FAILURES = (ServiceUnavailable, SessionExpired, Neo4jError, OSError)
_READ_TRIES = 3


def _retryable(exc: Exception) -> bool:
    return isinstance(exc, (Neo4jError, DriverError)) and exc.is_retryable()


class Connection:
    """Owns the driver. Opening checks that the server answers; creating the schema is
    ``migrate``'s job."""

    def __init__(self, uri: str, user: str | None = None, password: str | None = None,
                 database: str | None = None) -> None:
        self.uri = uri
        self.database = database
        self._driver = neo4j.GraphDatabase.driver(
            uri, auth=(user, password or "") if user else None,
            max_connection_pool_size=50, connection_acquisition_timeout=30,
            # The server's hints (a property key no node has yet, on a fresh database) would
            # be logged as warnings on every query; not sending them saves a little per query.
            notifications_min_severity=neo4j.NotificationMinimumSeverity.OFF)
        try:
            self._driver.execute_query("RETURN 1", database_=database)
        except _FAILURES as exc:
            self._driver.close()
            raise StoreError(f"cannot reach Neo4j at {uri}: {exc}. Is it running, and are "
                             "HEADWATER_NEO4J_URI/_USER/_PASSWORD right?") from exc

    def _read(self, query: str, **params: Any) -> list[dict[str, Any]]:
        # One statement in an auto-commit transaction: one round trip (RUN and PULL sent
        # together), where a managed transaction (execute_query) takes two (BEGIN, RUN and
        # PULL; then COMMIT) and more work on both sides. What the driver's retries were for,
        # a transient failure, is retried here.
        for attempt in range(_READ_TRIES):
            try:
                with self._driver.session(database=self.database,
                                          default_access_mode=neo4j.READ_ACCESS) as session:
                    result = session.run(query, params)
                    records, keys = list(result), result.keys()
                break
            except _FAILURES as exc:
                if attempt + 1 < _READ_TRIES and _retryable(exc):
                    time.sleep(0.05 * 2 ** attempt)
                    continue
                raise StoreError(f"Neo4j read failed: {exc}") from exc
        # Record.data() converts every value recursively (most of the cost of a large read);
        # only nodes returned whole need converting, and they are only ever top level.
        return [{k: dict(v) if isinstance(v, Node) else v for k, v in zip(keys, r, strict=True)}
                for r in records]

    def _read_beside(self, query: str, **params: Any) -> Future[list[dict[str, Any]]]:
        """``_read`` on another thread (and so another pooled connection), for a read whose
        answer is needed only after others this thread makes: a page's count beside the
        page. ``result()`` gives the rows or raises as ``_read`` does."""
        return _BESIDE.submit(self._read, query, **params)

    def _write_tx(self, work: Callable[[neo4j.ManagedTransaction], T]) -> T:
        """Run ``work`` in one write transaction (retried by the driver on transient errors);
        any failure is a ``StoreError`` and nothing of ``work`` is stored."""
        try:
            with self._driver.session(database=self.database) as session:
                return session.execute_write(work)
        except _FAILURES as exc:
            raise StoreError(f"Neo4j write failed, nothing was stored: {exc}") from exc

    def _edit(self, query: str, **params: Any) -> None:
        """One statement in its own write transaction."""
        self._write_tx(lambda tx: tx.run(query, params).consume())

    def ping(self) -> None:
        self._read("RETURN 1 AS ok")

    def close(self) -> None:
        self._driver.close()
