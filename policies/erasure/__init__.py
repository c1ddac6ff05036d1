"""GDPR erasure: plan, execute through connectors, verify, audit."""

from __future__ import annotations

from typing import Any

from headwater.catalog import Store
from headwater.policies.engine import PolicyEngine


def from_settings(settings: Any, store: Store, engine: PolicyEngine) -> tuple[Any, Any]:
    """(Erasures, Worker) configured from ``HEADWATER_*`` settings."""
    from headwater.policies.erasure.connectors import Connectors
    from headwater.policies.erasure.deadlines import rules_from
    from headwater.policies.erasure.service import Erasures
    from headwater.policies.erasure.subject import SubjectVault, load_secret
    from headwater.policies.erasure.worker import Worker, WorkerConfig

    erasures = Erasures(store, SubjectVault(load_secret(settings.secret_key, settings.data_dir)),
                        rules_from(settings.erasure_deadlines))
    worker = Worker(erasures, engine, Connectors.load(settings.connectors_file), WorkerConfig(
        lease_seconds=settings.erasure_lease_seconds, poll_seconds=settings.erasure_poll_seconds,
        backoff_seconds=settings.erasure_backoff_seconds,
        max_attempts=settings.erasure_max_attempts,
        webhook_timeout_seconds=settings.erasure_webhook_timeout_seconds,
        callback_base=settings.public_url or f"http://{settings.host}:{settings.port}",
        notify_url=settings.erasure_notify_url))
    return erasures, worker
