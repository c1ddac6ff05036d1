"""What the API is given: the services it calls. Built by the wiring (``headwater.app``); the
API holds no store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from headwater.api.bulkheads import Bulkheads
from headwater.catalog.reading import CatalogReading
from headwater.catalog.stewardship import Stewardship
from headwater.catalog.tokens import Tokens
from headwater.ingestion.service import Intake
from headwater.lineage.service import Lineage
from headwater.policies.engine import PolicyEngine
from headwater.policies.erasure.service import Erasures
from headwater.policies.gate import Gate


@dataclass
class Services:
    ingestion: Intake
    catalog: CatalogReading
    stewardship: Stewardship
    lineage: Lineage
    gate: Gate
    engine: PolicyEngine
    erasures: Erasures
    erasure_worker: Any  # policies.erasure.worker.Worker: run(stop_event) until stopped
    tokens: Tokens | None  # None: authentication is off (--no-auth, loopback only)
    # Thread pools per kind of work and the heavy-query cap (api.bulkheads).
    bulkheads: Bulkheads = field(default_factory=Bulkheads)
