"""The embedded store's files hold raw payloads, tokens' hashes and erasure requests: only
their owner may read them, whatever the umask. And the write-ahead log reaches the database
file without the writer's help."""

from __future__ import annotations

import logging
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from headwater.catalog import open_store
from headwater.catalog.model import DecisionRecord
from headwater.ingestion.normalize import normalize
from headwater.policies.erasure.subject import load_secret
from tests.factories import run_event


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    old = os.umask(0o022)  # the usual default: new files 0644, directories 0755
    try:
        yield
    finally:
        os.umask(old)


def test_database_wal_shm_and_data_directory_are_private(
        tmp_path: Path, permissive_umask: None) -> None:
    data = tmp_path / "data"
    store = open_store("embedded", path=data / "headwater.db")
    try:
        store.add_token("a" * 64, "ci", "producer")  # a write: the -wal and -shm exist now
        store.log_decision(DecisionRecord("d1", "2026-01-01T00:00:00+00:00", "ci", None, None,
                                          "allow", [], [], "r", "embedded", "x"))
        files = {p.name: mode(p) for p in data.iterdir()}
    finally:
        store.close()
    assert files == {name + suffix: 0o600 for name in ("headwater.db", "headwater.decisions.db")
                     for suffix in ("", "-wal", "-shm")}, files
    assert mode(data) == 0o700


def test_secret_key_directory_is_private(tmp_path: Path, permissive_umask: None) -> None:
    data = tmp_path / "fresh"
    load_secret(None, data)
    assert mode(data) == 0o700 and mode(data / "secret.key") == 0o600


def test_an_existing_readable_database_is_named_not_changed(
        tmp_path: Path, permissive_umask: None, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "headwater.db"
    open_store("embedded", path=path).close()
    path.chmod(0o644)  # as Headwater 0.1.0 left it
    with caplog.at_level(logging.WARNING, logger="headwater.store"):
        open_store("embedded", path=path).close()
    assert mode(path) == 0o644, "an operator's choice is not overridden"
    assert any(str(path) in r.getMessage() and "chmod 600" in r.getMessage()
               for r in caplog.records)


def test_the_log_is_copied_into_the_database_file_beside_the_writer(tmp_path: Path) -> None:
    """The writer's own checkpoint comes only when the log reaches 20,000 pages (80 MB), and
    held one commit a second for 30-70 ms under sustained ingestion; a thread of the store's
    own copies the log into the database file soon after commits instead."""
    path = tmp_path / "headwater.db"
    store = open_store("embedded", path=path)
    try:
        before = path.stat().st_size
        events = [normalize(run_event("START", job=("etl", f"job_{i}"))) for i in range(300)]
        store.write_events(events)  # ~1 MB of pages: far from the writer's 80 MB
        deadline = time.monotonic() + 10
        while path.stat().st_size < before + 500_000:
            assert time.monotonic() < deadline, "nothing was copied from the log"
            time.sleep(0.05)
    finally:
        store.close()
