"""A data directory made by Headwater 0.1.0 opens with today's code, migrated and intact; a file
from a newer Headwater is refused untouched; ``headwater migrate`` says what it did."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from headwater.catalog import SchemaTooNew, open_store
from headwater.catalog.embedded.migrations import STEPS
from headwater.catalog.ids import dataset_id
from headwater.catalog.resolving import resolve
from headwater.ingestion.normalize import normalize
from tests.factories import dataset, run_event, ts
from tests.migrations import colon_names, release_0_1_0

FIXTURE = Path(__file__).parent / "fixtures" / "embedded-0.1.0.db"
# Written by the code of schema version 3, when names with ':' were keyed as written.
COLON_NAMES = Path(__file__).parent / "fixtures" / "embedded-colon-names.db"
LATEST = len(STEPS)


def copy_fixture(data_dir: Path) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copyfile(FIXTURE, data_dir / "headwater.db"))


def user_version(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("PRAGMA user_version").fetchone()[0])


def test_release_0_1_0_data_is_migrated_and_intact(tmp_path: Path) -> None:
    path = copy_fixture(tmp_path)
    assert user_version(path) == 0  # 0.1.0 had no version stamp
    store = open_store("embedded", path=path)
    try:
        release_0_1_0.check(store)
        assert store.schema_version() == LATEST
    finally:
        store.close()
    again = open_store("embedded", path=path, migrate=False)
    try:
        assert again.schema_version() == LATEST
        assert again.migrate() == []  # the second open runs no step
        release_0_1_0.check(again)
    finally:
        again.close()


def test_a_new_file_migrates_from_0_to_latest(tmp_path: Path) -> None:
    store = open_store("embedded", path=tmp_path / "headwater.db", migrate=False)
    try:
        assert store.schema_version() == 0
        done = store.migrate()
        assert [line.split(":")[0] for line in done] == [
            f"schema version {v}" for v in range(1, LATEST + 1)]
        assert store.schema_version() == LATEST
        assert store.event_count() == 0
    finally:
        store.close()


def test_a_newer_schema_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = copy_fixture(tmp_path)
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {LATEST + 1}")
    db.close()
    before = path.read_bytes()
    with pytest.raises(SchemaTooNew) as refused:
        open_store("embedded", path=path)
    message = str(refused.value)
    assert str(path) in message and f"schema version {LATEST + 1}" in message
    assert "Upgrade Headwater" in message and "nothing was changed" in message
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["headwater.db"]


def headwater(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
    return subprocess.run([sys.executable, "-m", "headwater", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_cli_migrate_reports_each_step_then_up_to_date(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    path = copy_fixture(data_dir)
    first = headwater("migrate", "--store", "embedded", "--data-dir", str(data_dir))
    assert first.returncode == 0, first.stderr
    assert f"embedded store at {path}: schema version 0" in first.stdout
    for step in STEPS:
        assert f"applied schema version {step.version}: {step.description}" in first.stdout
    assert f"migrated from schema version 0 to {LATEST}" in first.stdout
    assert user_version(path) == LATEST
    second = headwater("migrate", "--store", "embedded", "--data-dir", str(data_dir))
    assert second.returncode == 0, second.stderr
    assert "applied" not in second.stdout
    assert f"up to date at schema version {LATEST}" in second.stdout
    store = open_store("embedded", path=path)
    try:
        release_0_1_0.check(store)
    finally:
        store.close()


def test_cli_migrate_exits_2_on_a_newer_schema(tmp_path: Path) -> None:
    path = copy_fixture(tmp_path)
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {LATEST + 7}")
    db.close()
    before = path.read_bytes()
    result = headwater("migrate", "--store", "embedded", "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert "Upgrade Headwater" in result.stderr and "applied" not in result.stdout
    assert path.read_bytes() == before


def test_serve_refuses_a_newer_schema_before_listening(tmp_path: Path) -> None:
    path = copy_fixture(tmp_path)
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {LATEST + 1}")
    db.close()
    before = path.read_bytes()
    result = headwater("serve", "--port", "0", "--data-dir", str(tmp_path))
    assert result.returncode == 2, result.stderr
    assert "Upgrade Headwater" in result.stderr and "Traceback" not in result.stderr
    assert "Headwater on" not in result.stderr  # no banner: it never served
    assert path.read_bytes() == before


def test_0_1_0_tokens_sharing_a_name_keep_working_under_distinct_names(tmp_path: Path) -> None:
    # 0.1.0 named every token created without --name "<role>-token".
    path = copy_fixture(tmp_path)
    with sqlite3.connect(path) as db:
        db.executemany("INSERT INTO tokens(hash, name, role, created_at) VALUES (?,?,?,?)",
                       [("b" * 64, "producer-token", "producer", "2026-03-01T10:00:00+00:00"),
                        ("c" * 64, "producer-token", "producer", "2026-03-02T10:00:00+00:00"),
                        ("d" * 64, "ci-producer", "viewer", "2026-03-03T10:00:00+00:00")])
    db.close()
    store = open_store("embedded", path=path)
    try:
        release_0_1_0.check(store)  # the fixture's own token still works
        names = [t.name for t in store.tokens()]
        assert len(names) == len(set(names)) == 4
        assert "producer-token" in names and "ci-producer" in names
        assert {store.token_role(h * 64) for h in "abcd"} == {"producer", "viewer"}
        assert store.token("a" * 64).name == "ci-producer"  # type: ignore[union-attr]
        assert store.token("b" * 64).name == "producer-token"  # type: ignore[union-attr]
    finally:
        store.close()


def test_names_with_colons_move_to_ids_that_cannot_collide(tmp_path: Path) -> None:
    path = Path(shutil.copyfile(COLON_NAMES, tmp_path / "headwater.db"))
    assert user_version(path) == 3
    with sqlite3.connect(path) as db:  # as schema version 3 keyed them
        assert ("dataset:s3://lake:raw/orders:2026",) in db.execute("SELECT id FROM datasets")
    db.close()
    store = open_store("embedded", path=path)
    try:
        assert store.schema_version() == LATEST
        colon_names.check(store)
        # The raw Marquez form a user may still type finds the moved node.
        orders = dataset_id(colon_names.NS, colon_names.ORDERS)
        assert resolve(store, f"dataset:{colon_names.NS}:{colon_names.ORDERS}") == orders
        # What arrives next lands on the moved nodes, not on new ones beside them.
        store.write_events([normalize(run_event(
            "COMPLETE", job=colon_names.JOB, time=ts(9),
            inputs=[dataset(colon_names.NS, colon_names.ORDERS)],
            outputs=[dataset(colon_names.NS, colon_names.SUMMARY)]))])
        assert store.datasets_page(colon_names.NS, None, None, 10, None)[1] == 2
        colon_names.check(store)
        assert store.migrate() == []
    finally:
        store.close()


def test_a_0_1_0_file_reads_a_datasets_fields_through_an_index(tmp_path: Path) -> None:
    """Impact analysis (and the gate, erasure planning) read the fields of given datasets; on
    a 0.1.0 file that read scanned every field node (~150 ms at 200,000 fields per analysis)."""
    path = copy_fixture(tmp_path)
    open_store("embedded", path=path).close()
    with sqlite3.connect(path) as db:
        plan = " ".join(str(r[-1]) for r in db.execute(
            "EXPLAIN QUERY PLAN SELECT dataset_id, field FROM field_nodes"
            " WHERE dataset_id IN (?, ?) ORDER BY field", ("a", "b")))
    assert "field_nodes_dataset" in plan and "SCAN field_nodes" not in plan, plan
