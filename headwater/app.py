"""Wiring: settings → store → application."""

from __future__ import annotations

from fastapi import FastAPI

from headwater.api.app import build_app
from headwater.catalog import Store, open_store
from headwater.settings import Settings


def create_app(settings: Settings | None = None, store: Store | None = None,
               only: str | None = None) -> FastAPI:
    settings = settings or Settings.load()
    store = store or open_store(settings.store, **settings.store_options())
    return build_app(settings, store, only=only)
