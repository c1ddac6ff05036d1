"""The gate in worker processes of its own (``HEADWATER_GATE_PROCESSES``, default 1; 0 keeps
it on threads of the server process).

On a thread of the server the gate shares the GIL with heavy GraphQL reads and ingestion: each
time a decision gives the GIL up (every SQLite step, every call into the Wasm runtime) it waits
up to Python's switch interval to get it back. A decision that takes ~4 ms alone took 60–90 ms
at the median under the soak's mixed load. A worker has its own interpreter, store connections
and policy engine and does nothing but decide; the server only hands over the request body and
the caller's identity, over a socket of the worker's own (``headwater.workers.SocketWorkers``).
Every decision is still logged (by the worker) before it is answered.
"""

from __future__ import annotations

import gc

from headwater.api.app import GC_THRESHOLDS
from headwater.catalog import open_store
from headwater.catalog.store import Store
from headwater.catalog.tokens import Identity
from headwater.policies.engine import PolicyEngine, open_engine
from headwater.policies.gate import Gate, GateDecision, GateLimits
from headwater.settings import Settings
from headwater.workers import SocketWorkers, start_worker


def build_gate(settings: Settings, store: Store, engine: PolicyEngine) -> Gate:
    return Gate(store, engine, settings.gate_fail_open_environments, GateLimits(
        max_body_bytes=settings.gate_max_body_bytes, max_datasets=settings.gate_max_datasets,
        max_flows=settings.gate_max_flows, max_fields=settings.gate_max_fields))


_gate: Gate | None = None  # the worker's own, built by _start_worker


def _start_worker(settings: Settings) -> None:
    global _gate
    start_worker(settings)
    store = open_store(settings.store, **settings.store_options())
    _gate = build_gate(settings, store, open_engine(
        settings.policy_engine, url=settings.opa_url, timeout=settings.gate_timeout_seconds))
    gc.freeze()  # as the server does (headwater.api.app): long-lived objects out of full passes
    gc.set_threshold(*GC_THRESHOLDS)


def _check(body: bytes, caller: Identity) -> GateDecision:
    assert _gate is not None, "the worker was started without _start_worker"
    return _gate.check(body, caller)


class GateProcesses:
    """``check`` as ``Gate.check``, in ``processes`` spawned workers; a call whose worker died
    gets 503, and a new worker takes the dead one's place."""

    def __init__(self, settings: Settings, processes: int) -> None:
        self._pool = SocketWorkers("gate", processes, _start_worker, (settings,))

    async def check(self, body: bytes, caller: Identity) -> GateDecision:
        return await self._pool.call(_check, body, caller)

    def shutdown(self) -> None:
        self._pool.shutdown()
