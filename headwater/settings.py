"""Settings from ``HEADWATER_*`` environment variables and an optional TOML file.

Precedence: explicit arguments (CLI flags) > environment > TOML file (``HEADWATER_CONFIG``) >
defaults.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "headwater"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HEADWATER_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir)
    store: Literal["embedded", "neo4j"] = "embedded"
    neo4j_uri: str = "bolt://127.0.0.1:7687"
    neo4j_user: str | None = None
    neo4j_password: str | None = None
    neo4j_database: str | None = None
    policy_engine: Literal["embedded", "opa"] = "embedded"
    opa_url: str = "http://127.0.0.1:8181"
    opa_push_bundle: bool = False  # load policies/rego into OPA at start (else OPA loads it)
    gate_timeout_seconds: float = 2.0
    # e.g. ["dev"]: allow when the engine cannot answer, for tokens bound to these environments
    # (`token create --environment dev`); an environment claimed in a request never fails open
    gate_fail_open_environments: list[str] = []
    gate_max_body_bytes: int = 1024 * 1024  # a gate request's body, refused with 413 past it
    gate_max_datasets: int = 1000  # inputs + outputs of one gate request
    gate_max_flows: int = 10_000  # planned column flows of one gate request
    gate_max_fields: int = 50_000  # catalog fields of one gate request's datasets
    classification_suggestions: bool = False  # Field.suggestedClassifications from names
    secret_key: str | None = None  # keys subject fingerprints, sealing, masking hashes
    connectors_file: Path | None = None  # erasure connectors (TOML); none: every task is manual
    erasure_worker: bool = True  # run the erasure worker inside `headwater serve`
    erasure_deadlines: dict[str, list[str]] = {}  # {"LGPD": ["P15D", "P0D"]}: + GDPR, CCPA
    erasure_poll_seconds: float = 2.0
    erasure_lease_seconds: float = 120.0
    erasure_max_attempts: int = 5
    erasure_backoff_seconds: float = 5.0
    erasure_webhook_timeout_seconds: float = 3600.0
    erasure_notify_url: str | None = None  # where Art. 19 notices to dataset owners are POSTed
    public_url: str | None = None  # how webhook recipients reach this server (callbacks)
    host: str = "127.0.0.1"
    port: int = 5000  # `--port`, `make run PORT=…`
    # Split deployments (`serve --only …`): where clients should send what this server does not
    # serve, told to them in the 404 they get (e.g. http://headwater.example.com:5001).
    api_url: str | None = None  # the `--only api` server: GraphQL, lineage reads, gate, erasure
    ingestion_url: str | None = None  # the `--only ingestion` server: events, quality results
    auth: bool = True
    max_body_bytes: int = 8 * 1024 * 1024  # after gzip decoding
    max_batch_events: int = 10_000
    log_format: Literal["auto", "json", "text"] = "auto"
    # Bounds on reads (docs/reference/settings.md#bounds-on-reads): a GraphQL query's estimated
    # cost, its deadline and body size; the thread pools of reads and of the gate; heavy
    # queries (cost >= graphql_heavy_cost) at once, beyond which they get 503 + Retry-After.
    graphql_max_cost: int = Field(100_000, ge=1)
    graphql_heavy_cost: int = Field(20_000, ge=1)
    max_heavy_queries: int = Field(2, ge=1)
    query_timeout_seconds: float = Field(10.0, gt=0)
    graphql_max_body_bytes: int = Field(1024 * 1024, ge=1024)
    read_threads: int = Field(8, ge=1)
    gate_threads: int = Field(4, ge=1)
    # Worker processes that decide gate requests (headwater/gate_process.py); 0: on the
    # gate's threads in the server process.
    gate_processes: int = Field(1, ge=0)
    # Worker processes that run heavy GraphQL reads (headwater/query_process.py); 0: on a
    # thread of the server process.
    query_processes: int = Field(2, ge=0)
    # Ingestion (parsing, validating, writing events) in a process of its own
    # (headwater/ingest_process.py); false: on the server's event loop and writer thread.
    ingest_process: bool = True
    # The embedded store's impact analysis walks an in-memory copy of the lineage graph while it
    # is current (catalog/embedded/adjacency.py); false: always its queries (less memory).
    impact_in_memory: bool = True

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        file_values: dict[str, Any] = {}
        config = os.environ.get("HEADWATER_CONFIG")
        if config:
            with open(config, "rb") as fh:
                file_values = tomllib.load(fh)
            # Environment beats the file: drop file keys that the environment sets.
            file_values = {
                k: v for k, v in file_values.items() if f"HEADWATER_{k.upper()}" not in os.environ
            }
        values = {**file_values, **{k: v for k, v in overrides.items() if v is not None}}
        return cls(**values)

    def store_options(self) -> dict[str, Any]:
        if self.store == "embedded":
            return {"path": self.data_dir / "headwater.db",
                    "impact_in_memory": self.impact_in_memory}
        return {
            "uri": self.neo4j_uri,
            "user": self.neo4j_user,
            "password": self.neo4j_password,
            "database": self.neo4j_database,
            "impact_in_memory": self.impact_in_memory,
        }
