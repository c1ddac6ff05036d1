"""Wiring: settings → store → services → application."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from headwater.api.app import build_app
from headwater.api.bulkheads import Bulkheads
from headwater.api.services import Services
from headwater.catalog import Store, open_store
from headwater.catalog.reading import CatalogReading
from headwater.catalog.stewardship import Stewardship
from headwater.catalog.tokens import Tokens
from headwater.gate_process import GateProcesses, build_gate
from headwater.ingest_process import IngestionProcess, build_ingestion
from headwater.ingestion.intake import GroupCommitter
from headwater.lineage.service import Lineage
from headwater.policies import erasure
from headwater.policies.engine import PolicyEngine, PolicyEngineUnavailable, open_engine
from headwater.query_process import QueryProcesses
from headwater.settings import Settings

log = logging.getLogger("headwater")


def services(settings: Settings, store: Store, engine: PolicyEngine,
             worker_processes: bool = True, ingest_process: bool = False) -> Services:
    """Every service over one store. What enters the catalog goes through a group committer
    and its writer thread: events and quality results the ingestion process's
    (``ingest_process``, when the settings ask for it; else the server's), steward edits the
    server's. ``worker_processes``: start the worker processes of the gate and of heavy
    queries (when the settings ask for any)."""
    committer = GroupCommitter(store)
    erasures, worker = erasure.from_settings(settings, store, engine)
    return Services(
        ingestion=IngestionProcess(settings) if ingest_process and settings.ingest_process
        else build_ingestion(settings, committer),
        catalog=CatalogReading(store),
        stewardship=Stewardship(store, committer.call),
        lineage=Lineage(store),
        gate=build_gate(settings, store, engine),
        engine=engine,
        erasures=erasures,
        erasure_worker=worker,
        tokens=Tokens(store) if settings.auth else None,
        # Reads, the gate and ingestion (its writer thread) never share threads.
        bulkheads=Bulkheads.of(settings.read_threads, settings.gate_threads,
                               settings.max_heavy_queries,
                               GateProcesses(settings, settings.gate_processes)
                               if worker_processes and settings.gate_processes else None,
                               QueryProcesses(settings, settings.query_processes)
                               if worker_processes and settings.query_processes else None),
    )


def create_app(settings: Settings | None = None, store: Store | None = None,
               only: str | None = None) -> FastAPI:
    settings = settings or Settings.load()
    store = store or open_store(settings.store, **settings.store_options())
    engine = open_engine(settings.policy_engine, url=settings.opa_url,
                         timeout=settings.gate_timeout_seconds)
    if settings.policy_engine == "opa" and settings.opa_push_bundle:
        try:
            engine.push_bundle()  # type: ignore[attr-defined]
        except PolicyEngineUnavailable as exc:  # the gate fails closed until OPA is back
            log.error("could not push the policy bundle: %s", exc)
    return build_app(settings, services(settings, store, engine, only != "ingestion",
                                        ingest_process=only != "api"), only=only)
