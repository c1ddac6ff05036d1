"""An empty store for a benchmark: an embedded file in ``data_dir``, or the test harness's
Neo4j (provisioned if need be), wiped; and the scratch directories benchmarks write in."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

from headwater.catalog import Store, open_store


def scratch_dir(prefix: str = "bench-") -> Path:
    """A temporary directory removed when the benchmark exits (a 100,000-dataset store is
    ~1.2 GB, a million-dataset one ~12 GB); ``HEADWATER_BENCH_KEEP=1`` keeps it."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    if not os.environ.get("HEADWATER_BENCH_KEEP"):
        atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def server_env(backend: str, data_dir: Path) -> dict[str, str]:
    """The environment of a benchmark's server on ``backend``: none of the caller's
    HEADWATER_ settings; Neo4j's are added by ``fresh_store``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
    env.update({"HEADWATER_DATA_DIR": str(data_dir), "HEADWATER_STORE": backend})
    return env


def fresh_store(backend: str, data_dir: Path, env: dict[str, str] | None = None,
                file: str = "headwater.db", wipe: bool = True) -> Store:
    """An empty store (with ``wipe`` false, Neo4j as it is); ``env`` (a server's environment)
    gains the Neo4j connection."""
    if backend == "embedded":
        return open_store("embedded", path=data_dir / file)
    from tests.conftest import _wipe_neo4j
    from tests.harness.services import ensure_neo4j

    neo = ensure_neo4j()
    if env is not None:
        env.update(neo.env)
    if wipe:
        _wipe_neo4j(neo.env)
    return open_store("neo4j", uri=neo.env["HEADWATER_NEO4J_URI"],
                      user=neo.env.get("HEADWATER_NEO4J_USER"),
                      password=neo.env.get("HEADWATER_NEO4J_PASSWORD"))
