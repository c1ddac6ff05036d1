"""Worker processes of the server: a pool of spawned processes that replaces itself when one
dies, and whose workers stop on their own when the server is gone.

The server runs its latency-bound work (the event loop: every request, the gate's answer,
ingestion's acknowledgements) in one Python process, which has one GIL. Work that holds the
GIL for long (a heavy GraphQL query completing a result of 100,000 values; a gate decision
beside it) runs in these workers instead: the operating system shares the cores between
processes far more evenly than Python shares the GIL between threads.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from headwater.catalog.errors import Unavailable
from headwater.logs import configure
from headwater.settings import Settings

V = TypeVar("V")
ORPHAN_CHECK_SECONDS = 1.0

log = logging.getLogger("headwater.workers")


def _exit_with(parent: int) -> None:
    # A server killed outright (SIGKILL, the OOM killer) cannot stop its workers: they stop
    # themselves once they are orphaned.
    while os.getppid() == parent:
        time.sleep(ORPHAN_CHECK_SECONDS)
    os._exit(0)


def start_worker(settings: Settings, niceness: int = 0) -> None:
    """What every worker does first: leave Ctrl-C to the server (it reaches the whole process
    group; the server stops its workers), log as the server does, stop when orphaned, and
    step ``niceness`` down in priority."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    configure(settings.log_format)  # the server's format and redaction, on the same stderr
    threading.Thread(target=_exit_with, args=(os.getppid(),), name="orphan-check",
                     daemon=True).start()
    if niceness:
        os.nice(niceness)


def _ready() -> None:
    """Nothing: submitted once per worker at start, so workers spawn then, not at the first
    call."""


class WorkerPool:
    """``processes`` spawned workers, each set up once by ``initializer(*initargs)``: all at
    once when the pool starts if ``eager``, else as calls need them. A worker that dies (a
    crash in native code, the OOM killer) breaks the pool: the calls in flight get
    :class:`Unavailable` (503), and the next call starts new workers."""

    def __init__(self, name: str, processes: int, initializer: Callable[..., None],
                 initargs: tuple[Any, ...], eager: bool = True) -> None:
        self.name = name
        self._processes = processes
        self._eager = eager
        self._initializer, self._initargs = initializer, initargs
        self._lock = threading.Lock()
        self._pool = self._start()
        self._broken: ProcessPoolExecutor | None = None  # the pool a call found broken

    def _start(self) -> ProcessPoolExecutor:
        # spawn, not fork: the server has threads (a forked child inherits their locks held).
        pool = ProcessPoolExecutor(self._processes, multiprocessing.get_context("spawn"),
                                   initializer=self._initializer, initargs=self._initargs)
        for _ in range(self._processes if self._eager else 0):
            pool.submit(_ready)
        return pool

    def submit(self, fn: Callable[..., V], *args: Any) -> Future[V]:
        """``fn(*args)`` in a worker, on new workers if the last call found the pool broken."""
        with self._lock:
            pool = self._pool
            if pool is self._broken:
                log.error("a %s worker process stopped: starting new ones", self.name)
                pool.shutdown(wait=False, cancel_futures=True)
                pool = self._pool = self._start()
        try:
            future = pool.submit(fn, *args)
        except BrokenProcessPool as exc:
            future = Future()
            future.set_exception(exc)
        future.add_done_callback(lambda f: self._note(pool, f))
        return future

    def _note(self, pool: ProcessPoolExecutor, future: Future[Any]) -> None:
        if not future.cancelled() and isinstance(future.exception(), BrokenProcessPool):
            self._broken = pool

    async def result(self, future: Future[V]) -> V:
        """The call's result; :class:`Unavailable` if its worker died."""
        try:
            return await asyncio.wrap_future(future)
        except BrokenProcessPool:
            raise Unavailable(f"the {self.name}'s worker process stopped while working; a new "
                              "one is starting: retry in a few seconds") from None

    async def call(self, fn: Callable[..., V], *args: Any) -> V:
        return await self.result(self.submit(fn, *args))

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
