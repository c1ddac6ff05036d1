"""The gate in worker processes of its own (``HEADWATER_GATE_PROCESSES``, default 1; 0 keeps
it on threads of the server process).

On a thread of the server the gate shares the GIL with heavy GraphQL reads and ingestion: each
time a decision gives the GIL up (every SQLite step, every call into the Wasm runtime) it waits
up to Python's switch interval to get it back. A decision that takes ~4 ms alone took 60–90 ms
at the median under the soak's mixed load. A worker has its own interpreter, store connections
and policy engine and does nothing but decide; the server only hands over the request body and
the caller's identity. Every decision is still logged (by the worker) before it is answered.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from headwater.catalog import open_store
from headwater.catalog.errors import Unavailable
from headwater.catalog.store import Store
from headwater.catalog.tokens import Identity
from headwater.logs import configure
from headwater.policies.engine import PolicyEngine, open_engine
from headwater.policies.gate import Gate, GateDecision, GateLimits
from headwater.settings import Settings

log = logging.getLogger("headwater.gate")
ORPHAN_CHECK_SECONDS = 1.0


def build_gate(settings: Settings, store: Store, engine: PolicyEngine) -> Gate:
    return Gate(store, engine, settings.gate_fail_open_environments, GateLimits(
        max_body_bytes=settings.gate_max_body_bytes, max_datasets=settings.gate_max_datasets,
        max_flows=settings.gate_max_flows, max_fields=settings.gate_max_fields))


_gate: Gate | None = None  # the worker's own, built by _start_worker


def _exit_with(parent: int) -> None:
    # A server killed outright (SIGKILL, the OOM killer) cannot stop its workers: they stop
    # themselves once they are orphaned.
    while os.getppid() == parent:
        time.sleep(ORPHAN_CHECK_SECONDS)
    os._exit(0)


def _start_worker(settings: Settings) -> None:
    global _gate
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the group: the server stops us
    configure(settings.log_format)  # the server's format and redaction, on the same stderr
    threading.Thread(target=_exit_with, args=(os.getppid(),), name="orphan-check",
                     daemon=True).start()
    store = open_store(settings.store, **settings.store_options())
    _gate = build_gate(settings, store, open_engine(
        settings.policy_engine, url=settings.opa_url, timeout=settings.gate_timeout_seconds))


def _ready() -> None:
    """Nothing: submitted once per worker at start, so workers spawn then, not at the first
    call."""


def _check(body: bytes, caller: Identity) -> GateDecision:
    assert _gate is not None, "the worker was started without _start_worker"
    return _gate.check(body, caller)


class GateProcesses:
    """``check`` as ``Gate.check``, in ``processes`` spawned workers. A worker that dies (the
    policy runtime crashed, the OOM killer) breaks the pool: the call in flight gets 503, and
    the next call starts new workers."""

    def __init__(self, settings: Settings, processes: int) -> None:
        self._settings = settings
        self._processes = processes
        self._lock = threading.Lock()
        self._pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        # spawn, not fork: the server has threads (a forked child inherits their locks held).
        pool = ProcessPoolExecutor(self._processes, multiprocessing.get_context("spawn"),
                                   initializer=_start_worker, initargs=(self._settings,))
        for _ in range(self._processes):
            pool.submit(_ready)
        return pool

    async def check(self, body: bytes, caller: Identity) -> GateDecision:
        pool = self._pool
        try:
            return await asyncio.wrap_future(pool.submit(_check, body, caller))
        except BrokenProcessPool as exc:
            with self._lock:
                if self._pool is pool:
                    log.error("a gate worker process stopped (%s): starting new ones", exc)
                    pool.shutdown(wait=False, cancel_futures=True)
                    self._pool = self._start()
            raise Unavailable("the gate's worker process stopped while deciding; a new one is "
                              "starting: retry in a few seconds") from None

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
