"""Bulkheads: reads, the gate and ingestion each run on their own threads, so one kind of work
never queues behind another; and a cap on the heavy reads running at once.

Every blocking service call used to go through ``asyncio.to_thread``, the event loop's one
default pool (6 threads on 2 cores): a handful of impact analyses filled it and the gate, which
answers pipelines waiting to start, queued behind them. Now GraphQL resolvers and REST reads run
on ``reads``, the gate on ``gate``, and ingestion keeps its own writer thread (the group
committer's). A query whose estimated cost makes it heavy (``api.graphql.cost``) must also take
one of ``heavy`` slots; when none is free it is refused at once with 503 and ``Retry-After``,
rather than waiting and holding a connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from headwater.catalog.tokens import Identity
from headwater.policies.gate import Gate, GateDecision, observe

V = TypeVar("V")

READ_THREADS = 8
GATE_THREADS = 4
MAX_HEAVY = 2
RETRY_AFTER_SECONDS = 2


async def run_in(pool: ThreadPoolExecutor, fn: Callable[..., V], *args: Any) -> V:
    """``fn(*args)`` on ``pool``, off the event loop, with the caller's context variables (as
    ``asyncio.to_thread``). Cancelling the caller cancels the call if it has not started yet; a
    call already running finishes on its thread."""
    call = functools.partial(contextvars.copy_context().run, fn, *args)
    return await asyncio.get_running_loop().run_in_executor(pool, call)


class HeavySlots:
    """At most ``limit`` heavy queries at once; ``try_acquire`` never waits."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._running = 0
        self._lock = threading.Lock()

    def try_acquire(self) -> bool:
        with self._lock:
            if self._running >= self.limit:
                return False
            self._running += 1
            return True

    def release(self) -> None:
        with self._lock:
            self._running -= 1

    @property
    def running(self) -> int:
        return self._running


class LoopThread:
    """An event loop of its own, on its own thread, for heavy GraphQL queries: graphql-core
    completes a result on the loop that runs it (about 8 µs a field, ~2 s for a list of 500
    datasets with their fields), which on the server's loop stalled every other request, the
    gate's included. Here that work only competes for the GIL, which Python hands over every
    few milliseconds."""

    def __init__(self, name: str = "heavy-graphql") -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def _started(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name=self._name, daemon=True).start()
                self._loop = loop
            return self._loop

    async def run(self, coro: Coroutine[Any, Any, V]) -> V:
        """Await ``coro`` run on this loop. Cancelling the caller (a deadline) cancels it
        there and waits until it has stopped, so its ``finally`` blocks (the heavy slot's
        release) have run when the caller sees the cancellation."""
        loop, caller = self._started(), asyncio.get_running_loop()
        done: asyncio.Future[V] = caller.create_future()
        tasks: list[asyncio.Task[V]] = []

        def settle(task: asyncio.Task[V]) -> None:
            if done.done():
                return
            if task.cancelled():
                done.cancel()
            elif (error := task.exception()) is not None:
                done.set_exception(error)
            else:
                done.set_result(task.result())

        def start() -> None:
            task = loop.create_task(coro)
            tasks.append(task)
            task.add_done_callback(lambda t: caller.call_soon_threadsafe(settle, t))

        loop.call_soon_threadsafe(start)
        try:
            return await asyncio.shield(done)
        except asyncio.CancelledError:
            loop.call_soon_threadsafe(lambda: tasks[0].cancel())  # after start(): FIFO
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await done
            raise

    def stop(self) -> None:
        with self._lock:
            if self._loop is not None:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._loop = None


@dataclass
class Bulkheads:
    reads: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(
        READ_THREADS, thread_name_prefix="reads"))
    gate_pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(
        GATE_THREADS, thread_name_prefix="gate"))
    heavy: HeavySlots = field(default_factory=lambda: HeavySlots(MAX_HEAVY))
    retry_after_seconds: int = RETRY_AFTER_SECONDS
    heavy_loop: LoopThread = field(default_factory=LoopThread)
    # Worker processes deciding gate requests (headwater.gate_process.GateProcesses: an async
    # ``check(body, caller)`` and ``shutdown()``), or None: the gate's threads decide.
    gate_processes: Any = None
    # Worker processes running heavy reads (headwater.query_process.QueryProcesses: ``submit``
    # and an async ``result``), or None: they run on ``heavy_loop``.
    query_processes: Any = None

    @classmethod
    def of(cls, read_threads: int, gate_threads: int, max_heavy: int,
           gate_processes: Any = None, query_processes: Any = None) -> Bulkheads:
        return cls(ThreadPoolExecutor(read_threads, thread_name_prefix="reads"),
                   ThreadPoolExecutor(gate_threads, thread_name_prefix="gate"),
                   HeavySlots(max_heavy), gate_processes=gate_processes,
                   query_processes=query_processes)

    async def read(self, fn: Callable[..., V], *args: Any) -> V:
        """A blocking read (GraphQL resolver, REST read) on the reads pool."""
        return await run_in(self.reads, fn, *args)

    async def check_gate(self, gate: Gate, body: bytes, caller: Identity) -> GateDecision:
        """``gate.check(body, caller)`` in the gate's worker processes if there are any, else
        on the gate's own threads."""
        if self.gate_processes is not None:
            result = cast(GateDecision, await self.gate_processes.check(body, caller))
        else:
            result = await run_in(self.gate_pool, gate.check, body, caller)
        observe(result)
        return result

    def shutdown(self) -> None:
        self.reads.shutdown(wait=False, cancel_futures=True)
        self.gate_pool.shutdown(wait=False, cancel_futures=True)
        if self.gate_processes is not None:
            self.gate_processes.shutdown()
        if self.query_processes is not None:
            self.query_processes.shutdown()
        self.heavy_loop.stop()
