"""Wiring: settings → store → application."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from headwater.api.app import build_app
from headwater.catalog import Store, open_store
from headwater.policies.engine import PolicyEngineUnavailable, open_engine
from headwater.settings import Settings

log = logging.getLogger("headwater")


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
    return build_app(settings, store, engine, only=only)
