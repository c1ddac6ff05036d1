"""Erasure connectors: how a task reaches the data (SQL databases, files, webhooks).

Connectors are configured (``HEADWATER_CONNECTORS_FILE``), never taken from events: a producer
must not be able to point an erasure at an arbitrary database or path. Every connector counts
the subject's rows and erases them in one transaction (or one atomic file replace), and is
idempotent: erasing again affects nothing.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import os
import sqlite3
import tempfile
import tomllib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

STRATEGIES = ("hash", "redact", "partial", "null")


class ConnectorError(RuntimeError):
    """A connector could not do what was asked; the message says what to fix."""


@dataclass(frozen=True)
class Target:
    """What to erase in one dataset."""

    namespace: str
    name: str
    keys: dict[str, list[str]]  # field -> the subject's values; a row matches on ANY of them
    action: str = "delete"       # or "anonymise": mask ``mask_fields`` in the matching rows
    mask_fields: tuple[str, ...] = ()
    strategy: str | None = None
    hash_key: bytes = b""

    def __post_init__(self) -> None:
        if self.action not in ("delete", "anonymise"):  # a custom policy's typo must not pass
            raise ConnectorError(f"{self.name}: unknown erasure action {self.action!r}: the "
                                 "policy must answer delete or anonymise")

    def masker(self) -> Callable[[Any], Any]:
        strategy = self.strategy or "hash"
        if strategy not in STRATEGIES:
            raise ConnectorError(f"unknown masking strategy {strategy!r}: use one of "
                                 f"{', '.join(STRATEGIES)}")
        return lambda v: mask(v, strategy, self.hash_key)


def mask(value: Any, strategy: str, key: bytes) -> str | None:
    if value is None or strategy == "null":
        return None
    text = str(value)
    if strategy == "redact":
        return "[REDACTED]"
    if strategy == "partial":
        return "*" * max(len(text) - 4, 0) + text[-4:]
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


class Connector(Protocol):
    kind: str

    def columns(self, target: Target) -> set[str] | None:
        """The dataset's columns as they are, or ``None`` when it has no fixed set (nothing
        to check a classification against). Raises ``ConnectorError`` when the table is not
        there."""

    def count(self, target: Target) -> int: ...

    def erase(self, target: Target) -> int: ...


@dataclass(frozen=True)
class Webhook:
    """A system reached by instruction and callback (the worker does the HTTP)."""

    namespace: str
    url: str
    secret: str | None = None
    kind: str = "webhook"


# -- SQL ----------------------------------------------------------------------------------
class SqlConnector:
    """PostgreSQL (psycopg 3) or SQLite: parameterised, one transaction per erase."""

    def __init__(self, kind: str, connect: Callable[[], Any], database: str | None = None,
                 where: str = "") -> None:
        self.kind = kind
        self._connect = connect
        self._database = database
        self._where = where

    def _table(self, name: str) -> tuple[str, str]:
        """(quoted table, description). PostgreSQL names are database.schema.table."""
        if self.kind == "sqlite":
            return _quote(name), name
        parts = name.split(".")
        if len(parts) != 3:
            raise ConnectorError(f"PostgreSQL dataset {name!r} is not named database.schema.table")
        if self._database and parts[0] != self._database:
            raise ConnectorError(f"dataset {name!r} is in database {parts[0]!r} but the "
                                 f"connector's DSN reaches {self._database!r}")
        return f"{_quote(parts[1], self.kind)}.{_quote(parts[2], self.kind)}", name

    def _match(self, target: Target) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        for f, values in sorted(target.keys.items()):
            if not values:
                continue
            if self.kind == "sqlite":
                clauses.append(f"CAST({_quote(f)} AS TEXT) IN ({','.join('?' * len(values))})")
                params.extend(values)
            else:
                clauses.append(f"{_quote(f, self.kind)}::text = ANY(%s)")
                params.append(list(values))
        return " OR ".join(clauses) or "FALSE", params

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        try:
            conn = self._connect()
        except Exception as exc:
            raise ConnectorError(f"cannot connect to {self.kind}: {_scrub(exc)}") from exc
        try:
            cur = conn.cursor()
            yield cur
            conn.commit()
        except Exception as exc:
            conn.rollback()
            if isinstance(exc, ConnectorError):
                raise
            raise ConnectorError(f"{self.kind} refused the erasure: {_scrub(exc)}") from exc
        finally:
            conn.close()

    def _columns(self, cur: Any, target: Target) -> set[str]:
        if self.kind == "sqlite":
            cur.execute("SELECT name FROM pragma_table_info(?)", (target.name,))
        else:  # pg_attribute, not information_schema: it does not hide unreadable columns
            _, schema, table = target.name.split(".")
            cur.execute("SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s)"
                        " AND attnum > 0 AND NOT attisdropped",
                        (f"{_quote(schema)}.{_quote(table)}",))
        columns = {str(r[0]) for r in cur.fetchall()}
        if not columns:
            raise ConnectorError(f"{target.name}: no such table in {target.namespace}")
        return columns

    def columns(self, target: Target) -> set[str] | None:
        self._table(target.name)
        with self._transaction() as cur:
            return self._columns(cur, target)

    def _check_columns(self, cur: Any, target: Target) -> None:
        """SQLite reads an unknown double-quoted name as a string, which would match nothing
        and let a misspelt column "verify" an erasure that never happened: refuse instead."""
        if self.kind != "sqlite":
            return  # PostgreSQL refuses unknown columns itself
        columns = self._columns(cur, target)
        masked = set(target.mask_fields) if target.action == "anonymise" else set()
        missing = sorted((set(target.keys) | masked) - columns)
        if missing:
            raise ConnectorError(f"{target.name} has no column {', '.join(missing)} (it has "
                                 f"{', '.join(sorted(columns))}): fix the dataset's schema or "
                                 "classifications")

    def count(self, target: Target) -> int:
        table, _ = self._table(target.name)
        where, params = self._match(target)
        with self._transaction() as cur:
            self._check_columns(cur, target)
            cur.execute(f"SELECT count(*) FROM {table} WHERE {where}", params)
            return int(cur.fetchone()[0])

    def erase(self, target: Target) -> int:
        table, _ = self._table(target.name)
        where, params = self._match(target)
        with self._transaction() as cur:
            self._check_columns(cur, target)
            if target.action == "delete":
                cur.execute(f"DELETE FROM {table} WHERE {where}", params)
                return int(cur.rowcount)
            return self._anonymise(cur, table, where, params, target)

    def _anonymise(self, cur: Any, table: str, where: str, params: list[Any],
                   target: Target) -> int:
        if not target.mask_fields:
            raise ConnectorError(f"{target.name}: nothing to anonymise (no PII fields known)")
        masker = target.masker()
        cols = [_quote(f, self.kind) for f in target.mask_fields]
        # A row's identity: rowid in SQLite; (tableoid, ctid) in PostgreSQL, where ctid alone
        # repeats across the partitions of a partitioned table.
        rowid = "rowid" if self.kind == "sqlite" else "tableoid::text || ':' || ctid::text"
        lock = "" if self.kind == "sqlite" else " FOR UPDATE"
        cur.execute(f"SELECT {rowid}, {', '.join(cols)} FROM {table} WHERE {where}{lock}", params)
        rows = cur.fetchall()
        if not rows:
            return 0
        masked = [[masker(v) for v in row[1:]] for row in rows]
        sets = ", ".join(f"{c} = ?" for c in cols) if self.kind == "sqlite" else ", ".join(
            f"{c} = v.c{i}" for i, c in enumerate(cols))
        if self.kind == "sqlite":
            cur.executemany(f"UPDATE {table} SET {sets} WHERE rowid = ?",
                            [[*m, row[0]] for m, row in zip(masked, rows, strict=True)])
        else:  # one statement for all rows: no round trip per row
            ident = [str(row[0]).split(":", 1) for row in rows]
            arrays = [[i[0] for i in ident], [i[1] for i in ident]] + [
                list(col) for col in zip(*masked, strict=True)]
            unnest = ", ".join(["%s::oid[]", "%s::tid[]"] + ["%s::text[]"] * len(cols))
            names = ", ".join(["rel", "tid"] + [f"c{i}" for i in range(len(cols))])
            cur.execute(f"UPDATE {table} AS t SET {sets} FROM unnest({unnest}) AS v({names}) "
                        f"WHERE t.tableoid = v.rel AND t.ctid = v.tid", arrays)
        return len(rows)


def _quote(identifier: str, kind: str = "sqlite") -> str:
    """A quoted SQL identifier. psycopg reads ``%`` in a statement that has parameters as a
    placeholder, so in PostgreSQL statements a literal one is written ``%%``."""
    quoted = '"' + identifier.replace('"', '""') + '"'
    return quoted if kind == "sqlite" else quoted.replace("%", "%%")


def _scrub(exc: Exception) -> str:
    """Errors without credentials."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if "password" not in text.lower() else "authentication or connection failed"


# -- files --------------------------------------------------------------------------------
class FileConnector:
    """CSV (with a header), JSON lines, Parquet (with pyarrow) under configured roots."""

    kind = "file"

    def __init__(self, roots: list[str]) -> None:
        self.roots = [Path(r).resolve() for r in roots]

    def _path(self, name: str) -> Path:
        path = Path(name).resolve()  # symlinks and .. resolved before the check
        if not any(path.is_relative_to(r) for r in self.roots):
            raise ConnectorError(f"{name} is outside the configured file roots "
                                 f"({', '.join(map(str, self.roots)) or 'none'}): add its "
                                 "directory to roots in HEADWATER_CONNECTORS_FILE")
        return path

    def _read(self, path: Path, keys: Iterable[str]
              ) -> tuple[list[dict[str, Any]], Callable[[list[dict[str, Any]]], bytes]]:
        suffix = path.suffix.lower()
        if suffix == ".csv":
            with path.open(newline="") as fh:
                reader = csv.DictReader(fh)
                rows, header = list(reader), list(reader.fieldnames or [])
            missing = sorted(set(keys) - set(header))
            if missing:  # else nothing would match, and the erasure would "verify"
                raise ConnectorError(f"{path} has no column {', '.join(missing)} (header: "
                                     f"{', '.join(header)}): fix the dataset's schema")

            def write_csv(out_rows: list[dict[str, Any]]) -> bytes:
                buf = io.StringIO()
                w = csv.DictWriter(buf, fieldnames=header, lineterminator="\n")
                w.writeheader()
                w.writerows(out_rows)
                return buf.getvalue().encode()
            return rows, write_csv
        if suffix in (".jsonl", ".ndjson"):
            rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
            return rows, lambda out: "".join(json.dumps(r) + "\n" for r in out).encode()
        if suffix == ".parquet":
            try:
                import pyarrow as pa
                import pyarrow.parquet as pq
            except ImportError as exc:
                raise ConnectorError("install pyarrow to erase from Parquet files") from exc
            table = pq.read_table(path)

            def write_parquet(out: list[dict[str, Any]]) -> bytes:
                sink = io.BytesIO()
                pq.write_table(pa.Table.from_pylist(out, schema=table.schema), sink)
                return sink.getvalue()
            return table.to_pylist(), write_parquet
        raise ConnectorError(f"{path}: unsupported file type {suffix!r} (CSV, JSON lines, Parquet)")

    def columns(self, target: Target) -> set[str] | None:
        path = self._path(target.name)
        if not path.exists():
            return None  # already gone: nothing to check
        suffix = path.suffix.lower()
        if suffix == ".csv":
            with path.open(newline="") as fh:
                return set(next(csv.reader(fh), []))
        if suffix == ".parquet":
            try:
                import pyarrow.parquet as pq
            except ImportError as exc:
                raise ConnectorError("install pyarrow to erase from Parquet files") from exc
            return set(pq.read_schema(path).names)
        return None  # JSON lines: each record has its own fields

    @staticmethod
    def _matches(row: dict[str, Any], target: Target) -> bool:
        return any(row.get(f) is not None and str(row.get(f)) in set(values)
                   for f, values in target.keys.items())

    def count(self, target: Target) -> int:
        path = self._path(target.name)
        if not path.exists():
            return 0  # already gone is erased
        rows, _ = self._read(path, target.keys)
        return sum(self._matches(r, target) for r in rows)

    def erase(self, target: Target) -> int:
        path = self._path(target.name)
        if not path.exists():
            return 0
        rows, write = self._read(path, target.keys)
        hits = [self._matches(r, target) for r in rows]
        if not any(hits):
            return 0
        if target.action == "delete":
            out = [r for r, hit in zip(rows, hits, strict=True) if not hit]
        else:
            masker = target.masker()
            out = [{k: (masker(v) if hit and k in target.mask_fields else v) for k, v in r.items()}
                   for r, hit in zip(rows, hits, strict=True)]
        # Atomic: readers see the old file or the new one, never half of it.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".erasing")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(write(out))
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, path.stat().st_mode & 0o777)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return sum(hits)


# -- configuration --------------------------------------------------------------------------
@dataclass
class Connectors:
    """The configured connectors. Erasure never reaches a system that is not configured here."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    source: str = "(none)"

    @classmethod
    def load(cls, path: Path | str | None) -> Connectors:
        if not path:
            return cls()
        try:
            with open(path, "rb") as fh:
                entries = tomllib.load(fh).get("connector", [])
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConnectorError(f"connectors file {path}: {exc}") from exc
        for n, e in enumerate(entries, 1):
            if not isinstance(e, dict) or not isinstance(e.get("namespace"), str):
                raise ConnectorError(f"connectors file {path}: [[connector]] #{n} needs a "
                                     "namespace = \"…\"")
            ns = e["namespace"]
            if not (ns == "file" or ns.startswith(("postgres://", "postgresql://", "sqlite://"))
                    or "webhook" in e):
                raise ConnectorError(f"connectors file {path}: no connector for namespace {ns!r}"
                                     ": PostgreSQL (postgres://host:port with dsn), SQLite "
                                     "(sqlite:///path), file (with roots), or webhook = \"url\"")
        return cls(entries, str(path))

    def kind(self, namespace: str) -> str | None:
        """The kind of connector configured for the namespace, without connecting."""
        entry = next((e for e in self.entries if e["namespace"] == namespace), None)
        if entry is None:
            return None
        if "webhook" in entry:
            return "webhook"
        return "file" if namespace == "file" else namespace.split(":", 1)[0].replace(
            "postgresql", "postgres")

    def for_dataset(self, namespace: str, name: str) -> Connector | Webhook | None:
        entry = next((e for e in self.entries if e["namespace"] == namespace), None)
        if entry is None:
            return None
        if "webhook" in entry:
            secret_env = entry.get("secret_env")
            return Webhook(namespace, entry["webhook"],
                           os.environ.get(secret_env) if secret_env else None)
        if namespace == "file":
            return FileConnector(list(entry.get("roots", [])))
        if namespace.startswith("sqlite://"):
            db_path = urlparse(namespace).path or namespace.removeprefix("sqlite://")

            def connect_sqlite() -> sqlite3.Connection:
                if not Path(db_path).exists():
                    raise ConnectorError(f"SQLite database {db_path} does not exist")
                return sqlite3.connect(db_path, timeout=30)
            return SqlConnector("sqlite", connect_sqlite)
        dsn = entry.get("dsn") or (os.environ.get(entry["dsn_env"]) if entry.get("dsn_env") else None)
        if not dsn:
            raise ConnectorError(f"the connector for {namespace} needs dsn = \"…\" or dsn_env = "
                                 f"\"VAR\" with VAR set ({self.source})")
        import psycopg

        database = psycopg.conninfo.conninfo_to_dict(dsn).get("dbname")
        return SqlConnector("postgres", lambda: psycopg.connect(dsn, connect_timeout=10),
                            str(database) if database else None)
