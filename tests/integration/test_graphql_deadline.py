"""A GraphQL request past its deadline really stops: on a real store, once the deadline passes
no new store call starts (the few already running on their threads finish), and the answer
says what happened."""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from headwater.api.graphql import Context, schema
from headwater.api.graphql.cost import Limits
from headwater.app import services
from headwater.catalog import open_store
from headwater.policies.engine import open_engine
from headwater.settings import Settings
from tests.e2e.test_bounds import HUB, NS, hub_events

JOBS = 600
# Four store calls per consumer job (its runs, its latest run, its output's schema history and
# quality summary): 2,400 calls, far more than fit in the deadline.
QUERY = """{ dataset(namespace: "%s", name: "%s") { consumers(first: 1000) {
  runs(first: 1) { id } latestRun { id }
  outputs(first: 1) { schemaVersions(first: 1) { version } qualitySummary { status } } } } }
""" % (NS, HUB)


def test_the_deadline_cancels_the_resolvers_still_to_run(tmp_path: Path) -> None:
    # The heavy query on a thread of this process, where its store calls can be counted; a
    # worker process (test_a_heavy_query_in_a_worker_stops_at_its_deadline) runs this code.
    settings = Settings(data_dir=tmp_path, auth=False, erasure_worker=False, query_processes=0)
    store = open_store("embedded", path=tmp_path / "headwater.db")
    svc = services(settings, store, open_engine("embedded"))
    started: list[float] = []
    lock = threading.Lock()

    def counted(fn: Any) -> Any:
        @functools.wraps(fn)
        def call(*args: Any) -> Any:
            with lock:
                started.append(time.monotonic())
            return fn(*args)
        return call

    async def scenario() -> tuple[Any, Any]:
        await svc.ingestion.start()
        try:
            done = await svc.ingestion.accept_batch(orjson.dumps(hub_events(JOBS, 2)))
            assert done.created == JOBS
            for name in ("runs", "schema_history", "quality_summary"):
                setattr(svc.catalog, name, counted(getattr(svc.catalog, name)))
            unbounded = await schema.execute(QUERY, context_value=Context(svc, "viewer"))
            assert not unbounded.errors, unbounded.errors
            everything = len(started)
            started.clear()
            # Counted as heavy, so it holds a heavy slot until it is stopped.
            result = await schema.execute(QUERY, context_value=Context(
                svc, "viewer", limits=Limits(timeout_seconds=0.1, heavy_cost=1)))
            assert svc.bulkheads.heavy.running == 0  # the stopped query gave its slot back
            return everything, result
        finally:
            await svc.ingestion.stop()

    try:
        everything, result = asyncio.run(scenario())
        at_deadline = len(started)
        time.sleep(1)
        after = len(started)
    finally:
        svc.bulkheads.shutdown()
        store.close()
    assert everything == 4 * JOBS  # every call, when nothing stops it
    assert result.data is None
    assert result.errors and result.errors[0].extensions == {"code": "TIMEOUT"}
    assert "ran past its 0.1 s deadline" in result.errors[0].message
    assert at_deadline < everything, (at_deadline, everything)
    # Nothing new started after the deadline; at most the reads' threads were taking work.
    assert after - at_deadline <= settings.read_threads, (at_deadline, after)


def test_a_heavy_query_in_a_worker_stops_at_its_deadline(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, auth=False, erasure_worker=False,
                        query_processes=1, max_heavy_queries=1)
    store = open_store("embedded", path=tmp_path / "headwater.db")
    svc = services(settings, store, open_engine("embedded"))
    # Every query is heavy: it runs in the worker process (at a lower priority: on a busy
    # machine the whole query takes seconds).
    heavy = Limits(heavy_cost=1, timeout_seconds=120)
    # The hub's consumers five times over: long enough that stopping early shows.
    five = "{ %s }" % " ".join(f"a{i}: {QUERY.strip()[1:-1]}" for i in range(5))

    async def run(limits: Limits) -> tuple[Any, float]:
        started = time.perf_counter()
        result = await schema.execute(five, context_value=Context(svc, "viewer",
                                                                  limits=limits))
        return result, time.perf_counter() - started

    async def scenario() -> tuple[float, Any, float, Any]:
        await svc.ingestion.start()
        try:
            assert (await svc.ingestion.accept_batch(orjson.dumps(hub_events(JOBS, 2)))
                    ).created == JOBS
            await run(heavy)  # the worker's first query: its connections, caches
            whole, took = await run(heavy)
            assert not whole.errors, whole.errors
            assert len(whole.data["a4"]["consumers"]) == JOBS
            stopped, _ = await run(Limits(heavy_cost=1, timeout_seconds=0.1))
            # The worker stopped too: the slot it held comes back long before the whole
            # query could have run, and the next query has the worker to itself.
            freed = time.perf_counter()
            while svc.bulkheads.heavy.running:
                await asyncio.sleep(0.01)
            freed = time.perf_counter() - freed
            after, _ = await run(heavy)
            return took, stopped, freed, after
        finally:
            await svc.ingestion.stop()

    try:
        took, stopped, freed, after = asyncio.run(scenario())
    finally:
        svc.bulkheads.shutdown()
        store.close()
    assert stopped.data is None
    assert stopped.errors and stopped.errors[0].extensions == {"code": "TIMEOUT"}
    assert "ran past its 0.1 s deadline" in stopped.errors[0].message
    assert freed < took / 2, (freed, took)
    assert not after.errors and len(after.data["a4"]["consumers"]) == JOBS
