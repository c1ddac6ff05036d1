"""Erasure connectors against a real PostgreSQL, real SQLite files and real CSV / JSON lines
files: what is erased, what is kept, and what is refused."""

from __future__ import annotations

import csv
import json
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from headwater.policies.erasure.connectors import ConnectorError, Connectors, Target, mask

KEY = b"k" * 32


@pytest.fixture
def pg(postgres_dsn: str) -> Iterator[tuple[Connectors, str, psycopg.Connection]]:
    """A scratch schema with a customers table, and connectors reaching it."""
    schema = f"t_{uuid.uuid4().hex[:8]}"
    conn = psycopg.connect(postgres_dsn, autocommit=True)
    conn.execute(f"CREATE SCHEMA {schema}")
    conn.execute(f"CREATE TABLE {schema}.customers (id int, email text, phone text, name text)")
    conn.execute(f"INSERT INTO {schema}.customers VALUES (1, 'a@x.io', '5551234567', 'Ann'),"
                 " (2, 'b@x.io', '5559876543', 'Bob'), (3, 'a@x.io', NULL, 'Ann again')")
    info = psycopg.conninfo.conninfo_to_dict(postgres_dsn)
    connectors = Connectors([{"namespace": "postgres://db:5432", "dsn": postgres_dsn}])
    yield connectors, f"{info['dbname']}.{schema}.customers", conn
    conn.execute(f"DROP SCHEMA {schema} CASCADE")
    conn.close()


def rows(conn: psycopg.Connection, name: str) -> list[tuple]:
    _, schema, table = name.split(".")
    return conn.execute(f"SELECT * FROM {schema}.{table} ORDER BY id").fetchall()


def test_postgres_delete_is_counted_idempotent_and_exact(pg: tuple) -> None:
    connectors, name, conn = pg
    c = connectors.for_dataset("postgres://db:5432", name)
    assert c is not None and c.kind == "postgres"
    target = Target("postgres://db:5432", name, {"email": ["a@x.io"], "id": ["2"]})
    assert c.count(target) == 3
    assert c.erase(target) == 3
    assert c.erase(target) == 0 and c.count(target) == 0
    assert rows(conn, name) == []
    conn.execute(f"INSERT INTO {name.split('.', 1)[1]} VALUES (4, 'c@x.io', NULL, 'Cy')")
    hostile = Target("postgres://db:5432", name, {"email": ["x' OR '1'='1"]})
    assert c.erase(hostile) == 0 and len(rows(conn, name)) == 1


def test_postgres_anonymise_masks_only_the_subjects_rows(pg: tuple) -> None:
    connectors, name, conn = pg
    c = connectors.for_dataset("postgres://db:5432", name)
    target = Target("postgres://db:5432", name, {"email": ["a@x.io"]}, action="anonymise",
                    mask_fields=("email", "phone"), strategy="hash", hash_key=KEY)
    assert c.erase(target) == 2
    got = rows(conn, name)
    assert got[1] == (2, "b@x.io", "5559876543", "Bob")
    assert got[0][1] == mask("a@x.io", "hash", KEY) == got[2][1] and got[0][3] == "Ann"
    assert got[2][2] is None  # NULL stays NULL
    assert c.count(target) == 0, "verification finds nothing left"


def test_postgres_refusals_say_what_is_wrong(pg: tuple) -> None:
    connectors, name, _ = pg
    c = connectors.for_dataset("postgres://db:5432", name)
    other_db = "elsewhere." + name.split(".", 1)[1]
    with pytest.raises(ConnectorError, match="database 'elsewhere'"):
        c.count(Target("postgres://db:5432", other_db, {"email": ["a"]}))
    with pytest.raises(ConnectorError, match="mail"):
        c.count(Target("postgres://db:5432", name, {"mail": ["a"]}))
    bad = Connectors([{"namespace": "postgres://db:5432", "dsn_env": "HW_TEST_UNSET_DSN"}])
    with pytest.raises(ConnectorError, match="dsn_env"):
        bad.for_dataset("postgres://db:5432", name)
    down = Connectors([{"namespace": "postgres://db:5432",
                        "dsn": "postgresql://u:secret@127.0.0.1:1/db"}])
    with pytest.raises(ConnectorError) as exc:
        down.for_dataset("postgres://db:5432", name).count(  # type: ignore[union-attr]
            Target("postgres://db:5432", "db.public.t", {"email": ["a"]}))
    assert "secret" not in str(exc.value)


def test_postgres_names_with_percent_signs_are_erased(pg: tuple) -> None:
    """A table and columns whose names hold ``%`` (psycopg's placeholder mark) are erased."""
    connectors, name, conn = pg
    schema = name.split(".")[1]
    conn.execute(f'CREATE TABLE {schema}."cust%s_100%" ("e%mail" text, "mob%%" text, id int)')
    conn.execute(f'INSERT INTO {schema}."cust%s_100%" VALUES (\'a@x.io\', \'555\', 1),'
                 " ('b@x.io', '556', 2)")
    odd = name.rsplit(".", 1)[0] + ".cust%s_100%"
    c = connectors.for_dataset("postgres://db:5432", odd)
    assert c is not None
    masked = Target("postgres://db:5432", odd, {"e%mail": ["a@x.io"]}, action="anonymise",
                    mask_fields=("mob%%",), strategy="redact", hash_key=KEY)
    assert c.count(masked) == 1 and c.erase(masked) == 1
    deleted = Target("postgres://db:5432", odd, {"e%mail": ["a@x.io"]})
    assert c.erase(deleted) == 1 and c.count(deleted) == 0
    assert conn.execute(f'SELECT * FROM {schema}."cust%s_100%"').fetchall() == [
        ("b@x.io", "556", 2)]


def test_sqlite_delete_and_partial_mask(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    with sqlite3.connect(db) as s:
        s.execute("CREATE TABLE users (id INTEGER, email TEXT, phone TEXT)")
        s.executemany("INSERT INTO users VALUES (?,?,?)",
                      [(1, "a@x.io", "5551234567"), (2, "b@x.io", "5550000000")])
    ns = f"sqlite://{db}"
    c = Connectors([{"namespace": ns}]).for_dataset(ns, "users")
    assert c is not None and c.kind == "sqlite"
    partial = Target(ns, "users", {"id": ["1"]}, action="anonymise", mask_fields=("phone",),
                     strategy="partial")
    assert c.erase(partial) == 1
    assert c.erase(Target(ns, "users", {"email": ["b@x.io"]})) == 1
    with sqlite3.connect(db) as s:
        assert s.execute("SELECT * FROM users").fetchall() == [(1, "a@x.io", "******4567")]


def test_files_rewritten_atomically_in_order_and_confined_to_roots(tmp_path: Path) -> None:
    root = tmp_path / "exports"
    root.mkdir()
    csv_path, jsonl = root / "contacts.csv", root / "events.jsonl"
    csv_path.write_text("email,segment\nb@x.io,1\na@x.io,2\nc@x.io,3\na@x.io,4\n")
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in [
        {"email": "a@x.io", "n": 1}, {"email": "b@x.io", "n": 2}]))
    c = Connectors([{"namespace": "file", "roots": [str(root)]}]).for_dataset("file", "")
    assert c is not None
    assert c.erase(Target("file", str(csv_path), {"email": ["a@x.io"]})) == 2
    with csv_path.open(newline="") as fh:
        assert list(csv.reader(fh)) == [["email", "segment"], ["b@x.io", "1"], ["c@x.io", "3"]]
    redact = Target("file", str(jsonl), {"email": ["a@x.io"]}, action="anonymise",
                    mask_fields=("email",), strategy="redact")
    assert c.erase(redact) == 1 and c.count(redact) == 0
    assert [json.loads(line) for line in jsonl.read_text().splitlines()] == [
        {"email": "[REDACTED]", "n": 1}, {"email": "b@x.io", "n": 2}]
    assert sorted(root.iterdir()) == sorted([csv_path, jsonl]), "no temporary file left behind"
    assert c.count(Target("file", str(root / "gone.csv"), {"email": ["a"]})) == 0

    outside = tmp_path / "secret.csv"
    outside.write_text("email\na@x.io\n")
    (root / "link.csv").symlink_to(outside)
    for sneaky in (str(outside), str(root / ".." / "secret.csv"), str(root / "link.csv")):
        with pytest.raises(ConnectorError, match="outside the configured file roots"):
            c.erase(Target("file", sneaky, {"email": ["a@x.io"]}))
    assert outside.read_text() == "email\na@x.io\n"


def test_connectors_file_is_validated(tmp_path: Path) -> None:
    good = tmp_path / "c.toml"
    good.write_text('[[connector]]\nnamespace = "sqlite:///srv/app.db"\n'
                    '[[connector]]\nnamespace = "https://crm"\nwebhook = "https://crm/erase"\n')
    loaded = Connectors.load(good)
    assert loaded.kind("sqlite:///srv/app.db") == "sqlite" and loaded.kind("https://crm") == (
        "webhook")
    assert loaded.kind("postgres://other:5432") is None, "no connector: a manual task"
    broken = tmp_path / "broken.toml"
    broken.write_text("[[connector]\nnamespace = ")
    with pytest.raises(ConnectorError, match="broken.toml"):
        Connectors.load(broken)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text('[[connector]]\nnamespace = "s3://bucket"\n')
    with pytest.raises(ConnectorError, match="s3://bucket"):
        Connectors.load(unknown)


def test_postgres_partitioned_table_masks_only_the_subjects_rows(postgres_dsn: str) -> None:
    """ctid repeats across partitions: the first row of each partition shares (0,1)."""
    schema = f"p_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(f"CREATE TABLE {schema}.people (region text, email text)"
                     " PARTITION BY LIST (region)")
        for region in ("eu", "us"):
            conn.execute(f"CREATE TABLE {schema}.people_{region} PARTITION OF {schema}.people"
                         f" FOR VALUES IN ('{region}')")
        conn.execute(f"INSERT INTO {schema}.people VALUES ('eu', 'a@x.io'), ('us', 'b@x.io')")
        info = psycopg.conninfo.conninfo_to_dict(postgres_dsn)
        name = f"{info['dbname']}.{schema}.people"
        c = Connectors([{"namespace": "postgres://db:5432", "dsn": postgres_dsn}]).for_dataset(
            "postgres://db:5432", name)
        target = Target("postgres://db:5432", name, {"email": ["a@x.io"]}, action="anonymise",
                        mask_fields=("email",), strategy="redact")
        assert c.erase(target) == 1  # type: ignore[union-attr]
        assert conn.execute(f"SELECT region, email FROM {schema}.people ORDER BY 1").fetchall() == [
            ("eu", "[REDACTED]"), ("us", "b@x.io")]
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


def test_a_misspelt_column_is_an_error_not_zero_rows(tmp_path: Path) -> None:
    """Else the erasure would "verify" with nothing erased."""
    db = tmp_path / "app.db"
    with sqlite3.connect(db) as s:
        s.execute("CREATE TABLE users (email TEXT)")
        s.execute("INSERT INTO users VALUES ('a@x.io')")
    ns = f"sqlite://{db}"
    c = Connectors([{"namespace": ns}]).for_dataset(ns, "users")
    with pytest.raises(ConnectorError, match="no column mail"):
        c.count(Target(ns, "users", {"mail": ["a@x.io"]}))  # type: ignore[union-attr]
    with pytest.raises(ConnectorError, match="no such table"):
        c.erase(Target(ns, "nope", {"email": ["a@x.io"]}))  # type: ignore[union-attr]
    root = tmp_path / "out"
    root.mkdir()
    (root / "x.csv").write_text("email\na@x.io\n")
    files = Connectors([{"namespace": "file", "roots": [str(root)]}]).for_dataset("file", "")
    with pytest.raises(ConnectorError, match="no column mail"):
        files.erase(Target("file", str(root / "x.csv"), {"mail": ["a@x.io"]}))  # type: ignore[union-attr]
    assert (root / "x.csv").read_text() == "email\na@x.io\n"
    with pytest.raises(ConnectorError, match="unknown erasure action 'keep'"):
        Target(ns, "users", {"email": ["a@x.io"]}, action="keep")


def test_connectors_tell_the_columns_a_dataset_really_has(pg: tuple, tmp_path: Path) -> None:
    """What the worker checks classifications against before erasing."""
    connectors, name, conn = pg
    c = connectors.for_dataset("postgres://db:5432", name)
    assert c.columns(Target("postgres://db:5432", name, {})) == {"id", "email", "phone", "name"}
    conn.execute(f"ALTER TABLE {name.split('.', 1)[1]} DROP COLUMN phone")
    assert c.columns(Target("postgres://db:5432", name, {})) == {"id", "email", "name"}
    gone = name.rsplit(".", 1)[0] + ".nope"
    with pytest.raises(ConnectorError, match="no such table"):
        c.columns(Target("postgres://db:5432", gone, {}))

    db = tmp_path / "app.db"
    with sqlite3.connect(db) as s:
        s.execute("CREATE TABLE users (email TEXT, seg TEXT)")
    ns = f"sqlite://{db}"
    lite = Connectors([{"namespace": ns}]).for_dataset(ns, "users")
    assert lite.columns(Target(ns, "users", {})) == {"email", "seg"}  # type: ignore[union-attr]
    with pytest.raises(ConnectorError, match="no such table"):
        lite.columns(Target(ns, "nope", {}))  # type: ignore[union-attr]
    # A delete does not need the PII columns it would mask to exist: the row goes whole.
    assert lite.count(Target(ns, "users", {"email": ["a"]}, mask_fields=("fax",))) == 0  # type: ignore[union-attr]

    root = tmp_path / "out"
    root.mkdir()
    (root / "x.csv").write_text("email,seg\na@x.io,gold\n")
    (root / "x.jsonl").write_text('{"email": "a@x.io"}\n')
    files = Connectors([{"namespace": "file", "roots": [str(root)]}]).for_dataset("file", "")
    assert files.columns(Target("file", str(root / "x.csv"), {})) == {"email", "seg"}  # type: ignore[union-attr]
    assert files.columns(Target("file", str(root / "x.jsonl"), {})) is None  # type: ignore[union-attr]
    assert files.columns(Target("file", str(root / "gone.csv"), {})) is None  # type: ignore[union-attr]
