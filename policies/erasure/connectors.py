"""Erasure connectors: how a task reaches the data (PostgreSQL, SQLite, files, webhooks).

Connectors are configured (``HEADWATER_CONNECTORS_FILE``, TOML), never taken from events: a
producer must not be able to point an erasure at an arbitrary database or path. Every connector

* counts the rows an erasure would still change (``count``: after a successful ``erase`` it is 0,
  which is how the worker verifies),
* erases them in one transaction (SQL) or one atomic file replace (``erase``, returning the rows
  affected), and
* is idempotent: erasing again affects nothing.

Rows match when ANY key field, compared as text, equals one of the subject's values. Values are
always bound as parameters, never formatted into SQL.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import os
import sqlite3
import stat
import tempfile
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol
from urllib.request import pathname2url

if TYPE_CHECKING:
    import psycopg

STRATEGIES = ("hash", "redact", "partial", "null")
ACTIONS = ("delete", "anonymise")
REDACTED = "[REDACTED]"


class ConnectorError(RuntimeError):
    """A connector could not do what was asked; the message says what to fix."""


# -- what to erase ------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    """What to erase in one dataset."""

    namespace: str                # OpenLineage dataset namespace
    name: str                     # OpenLineage dataset name
    keys: dict[str, list[str]]    # field -> the subject's values; a row matches on ANY of them
    action: str = "delete"        # or "anonymise": mask ``mask_fields`` in the matching rows
    mask_fields: tuple[str, ...] = ()
    strategy: str | None = None   # hash | redact | partial | null (anonymise; default hash)
    hash_key: bytes = b""

    @property
    def dataset(self) -> str:
        return f"{self.name} ({self.namespace})"

    def values(self) -> dict[str, list[str]]:
        """The key fields that have values, each with its distinct values as text."""
        out = {f: sorted({str(v) for v in vs}) for f, vs in self.keys.items()}
        return {f: vs for f, vs in sorted(out.items()) if vs}

    def check(self) -> str | None:
        """Refuse what cannot be done safely; the masking strategy when anonymising."""
        if self.action not in ACTIONS:
            raise ConnectorError(f"{self.dataset}: unknown erasure action {self.action!r} "
                                 f"(use {' or '.join(ACTIONS)})")
        if self.action == "delete":
            return None
        strategy = self.strategy or "hash"
        if strategy not in STRATEGIES:
            raise ConnectorError(f"{self.dataset}: unknown masking strategy {strategy!r} "
                                 f"(use one of {', '.join(STRATEGIES)})")
        if not self.mask_fields:
            raise ConnectorError(f"{self.dataset}: nothing to anonymise (no fields to mask)")
        if strategy == "hash":
            if not self.hash_key:
                raise ConnectorError(f"{self.dataset}: hash masking needs a secret key (an "
                                     "unkeyed hash of an identifier is reversed by guessing)")
            clear = sorted(set(self.values()) - set(self.mask_fields))
            if clear:  # hashing is not idempotent: each run would hash the hash again
                raise ConnectorError(
                    f"{self.dataset}: anonymising by hash must also mask the key field(s) "
                    f"{', '.join(clear)}: otherwise the rows still name the subject and every "
                    "retry would hash the masked values again")
        return strategy

    def masker(self) -> Callable[[str | None], str | None]:
        strategy = self.check() or "hash"
        return lambda v: mask(v, strategy, self.hash_key)


def mask(value: str | None, strategy: str, key: bytes) -> str | None:
    """One masked value. ``None`` stays ``None`` whatever the strategy."""
    if strategy not in STRATEGIES:
        raise ConnectorError(f"unknown masking strategy {strategy!r} (use one of "
                             f"{', '.join(STRATEGIES)})")
    if value is None or strategy == "null":
        return None
    text = str(value)
    if strategy == "redact":
        return REDACTED
    if strategy == "partial":
        return "*" * max(len(text) - 4, 0) + text[-4:]
    if not key:
        raise ConnectorError("hash masking needs a secret key")
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


class Connector(Protocol):
    kind: str

    def count(self, target: Target) -> int: ...

    def erase(self, target: Target) -> int: ...


@dataclass(frozen=True)
class Webhook:
    """A system reached by instruction and callback (the worker does the HTTP)."""

    namespace: str
    url: str
    secret: str | None = None
    kind: str = "webhook"


def _pending(rows: Iterable[tuple[Any, ...]], masker: Callable[[str | None], str | None]
             ) -> list[tuple[Any, list[str | None]]]:
    """(row id, masked values) for the rows ``(id, *current text values)`` masking changes."""
    out = []
    for row in rows:
        current = list(row[1:])
        masked = [masker(v) for v in current]
        if masked != current:
            out.append((row[0], masked))
    return out


# -- PostgreSQL ---------------------------------------------------------------------------
class PostgresConnector:
    """PostgreSQL through psycopg 3: datasets are ``database.schema.table``."""

    kind = "postgres"

    def __init__(self, namespace: str, dsn: str) -> None:
        from psycopg.conninfo import conninfo_to_dict

        self.namespace = namespace
        self._dsn = dsn
        try:
            info = conninfo_to_dict(dsn)
        except Exception as exc:  # the message may quote the DSN: do not pass it on
            raise ConnectorError(f"the DSN of the connector for {namespace} is not a valid "
                                 "PostgreSQL connection string") from exc
        self._password = str(info.get("password") or "")
        self._database = str(info["dbname"]) if info.get("dbname") else None
        self.address = f"{info.get('host') or 'localhost'}:{info.get('port') or 5432}"

    def _scrub(self, text: str) -> str:
        text = text.strip() or "unknown error"
        return text.replace(self._password, "***") if self._password else text

    def _table(self, target: Target) -> tuple[str, str, str]:
        parts = target.name.split(".")
        if len(parts) != 3 or not all(parts):
            raise ConnectorError(f"PostgreSQL dataset {target.name!r} is not named "
                                 "database.schema.table")
        if self._database and parts[0] != self._database:
            raise ConnectorError(f"dataset {target.name!r} is in database {parts[0]!r} but the "
                                 f"connector for {self.namespace} reaches {self._database!r}")
        return parts[0], parts[1], parts[2]

    @contextmanager
    def _transaction(self, target: Target, database: str) -> Iterator[psycopg.Cursor[Any]]:
        import psycopg

        try:
            conn = psycopg.connect(self._dsn, connect_timeout=10)
        except psycopg.Error as exc:
            raise ConnectorError(f"cannot connect to PostgreSQL at {self.address} (connector for "
                                 f"{self.namespace}): {self._scrub(str(exc))}") from None
        try:
            if conn.info.dbname != database:
                raise ConnectorError(f"dataset {target.name!r} is in database {database!r} but "
                                     f"the connector for {self.namespace} reaches "
                                     f"{conn.info.dbname!r}")
            with conn.cursor() as cur:
                yield cur
            conn.commit()
        except psycopg.Error as exc:
            if not conn.closed:
                conn.rollback()
            raise ConnectorError(self._explain(target, exc)) from None
        except BaseException:
            if not conn.closed:
                conn.rollback()
            raise
        finally:
            conn.close()

    def _explain(self, target: Target, exc: Exception) -> str:
        import psycopg

        diag = getattr(exc, "diag", None)
        message = self._scrub((diag.message_primary if diag else None) or str(exc))
        if isinstance(exc, psycopg.errors.UndefinedTable):
            return f"{target.dataset}: the table does not exist ({message})"
        if isinstance(exc, psycopg.errors.UndefinedColumn):
            return f"{target.dataset}: the table has no such column ({message})"
        if isinstance(exc, psycopg.errors.InsufficientPrivilege):
            return (f"{target.dataset}: the connector's role may not do this ({message}): grant it "
                    "SELECT, UPDATE and DELETE on the table")
        if isinstance(exc, psycopg.OperationalError):
            return f"{target.dataset}: lost PostgreSQL at {self.address} ({message}); nothing changed"
        return f"{target.dataset}: PostgreSQL refused the erasure, nothing changed ({message})"

    @staticmethod
    def _match(target: Target) -> tuple[Any, list[list[str]]]:
        from psycopg import sql

        values = target.values()
        if not values:
            return sql.SQL("FALSE"), []
        clauses = [sql.SQL("{}::text = ANY(%s)").format(sql.Identifier(f)) for f in values]
        return sql.SQL("({})").format(sql.SQL(" OR ").join(clauses)), list(values.values())

    def count(self, target: Target) -> int:
        from psycopg import sql

        strategy = target.check()
        database, schema, table = self._table(target)
        where, params = self._match(target)
        with self._transaction(target, database) as cur:
            rel = sql.Identifier(schema, table)
            if strategy in ("hash", "partial"):
                return len(self._select(cur, rel, where, params, target, lock=False))
            changes, extra = self._changes(target, strategy)
            cur.execute(sql.SQL("SELECT count(*) FROM {} WHERE {}{}").format(rel, where, changes),
                        [*params, *extra])
            row = cur.fetchone()
            return int(row[0]) if row else 0

    def erase(self, target: Target) -> int:
        from psycopg import sql

        strategy = target.check()
        database, schema, table = self._table(target)
        where, params = self._match(target)
        with self._transaction(target, database) as cur:
            rel = sql.Identifier(schema, table)
            if strategy is None:
                cur.execute(sql.SQL("DELETE FROM {} WHERE {}").format(rel, where), params)
                return max(cur.rowcount, 0)
            cols = [sql.Identifier(f) for f in target.mask_fields]
            if strategy in ("null", "redact"):  # constants: one UPDATE
                value = sql.SQL("NULL") if strategy == "null" else sql.SQL("%s")
                sets = sql.SQL(", ").join(
                    sql.SQL("{c} = CASE WHEN {c} IS NULL THEN NULL ELSE {v} END").format(c=c, v=value)
                    for c in cols)
                changes, extra = self._changes(target, strategy)
                consts = [REDACTED] * len(cols) if strategy == "redact" else []
                cur.execute(sql.SQL("UPDATE {} SET {} WHERE {}{}").format(rel, sets, where, changes),
                            [*consts, *params, *extra])
                return max(cur.rowcount, 0)
            pending = self._select(cur, rel, where, params, target, lock=True)
            if not pending:
                return 0
            # Per-row masks computed here, written back in one statement (no round trip per row).
            # Rows are identified by (tableoid, ctid): ctid alone repeats across partitions.
            names = [sql.Identifier(f"c{i}") for i in range(len(cols))]
            sets = sql.SQL(", ").join(sql.SQL("{} = v.{}").format(c, n) for c, n in zip(cols, names,
                                                                                          strict=True))
            arrays: list[list[Any]] = [[p[0][0] for p in pending], [p[0][1] for p in pending]]
            arrays += [list(col) for col in zip(*(p[1] for p in pending), strict=True)]
            cur.execute(sql.SQL(
                "UPDATE {rel} AS t SET {sets} FROM unnest(%s::oid[], %s::tid[]{texts}) "
                "AS v(rel, id, {names}) WHERE t.tableoid = v.rel AND t.ctid = v.id").format(
                rel=rel, sets=sets, texts=sql.SQL(", %s::text[]" * len(cols)),
                names=sql.SQL(", ").join(names)), arrays)
            return max(cur.rowcount, 0)

    @staticmethod
    def _changes(target: Target, strategy: str | None) -> tuple[Any, list[str]]:
        """SQL restricting matching rows to those the constant masks would change."""
        from psycopg import sql

        if strategy is None:
            return sql.SQL(""), []
        cols = [sql.Identifier(f) for f in target.mask_fields]
        if strategy == "null":
            test = sql.SQL(" OR ").join(sql.SQL("{} IS NOT NULL").format(c) for c in cols)
            return sql.SQL(" AND ({})").format(test), []
        if strategy == "redact":
            test = sql.SQL(" OR ").join(sql.SQL("{}::text <> %s").format(c) for c in cols)
            return sql.SQL(" AND ({})").format(test), [REDACTED] * len(cols)
        return sql.SQL(""), []

    @staticmethod
    def _select(cur: psycopg.Cursor[Any], rel: Any, where: Any, params: list[list[str]],
                target: Target, lock: bool) -> list[tuple[Any, list[str | None]]]:
        from psycopg import sql

        texts = sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(f))
                                   for f in target.mask_fields)
        cur.execute(sql.SQL("SELECT tableoid::text, ctid::text, {} FROM {} WHERE {}{}").format(
            texts, rel, where, sql.SQL(" FOR UPDATE") if lock else sql.SQL("")), params)
        rows = [((r[0], r[1]), *r[2:]) for r in cur.fetchall()]
        return _pending(rows, target.masker())


# -- SQLite ---------------------------------------------------------------------------------
def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


class SqliteConnector:
    """A SQLite database file; datasets are its tables."""

    kind = "sqlite"

    def __init__(self, namespace: str, path: str) -> None:
        self.namespace = namespace
        self.path = path

    @contextmanager
    def _transaction(self, target: Target, write: bool) -> Iterator[sqlite3.Cursor]:
        if not Path(self.path).is_file():  # connecting would create an empty database
            raise ConnectorError(f"SQLite database {self.path} does not exist (connector for "
                                 f"{self.namespace})")
        try:
            conn = sqlite3.connect(f"file:{pathname2url(self.path)}?mode=rw", uri=True, timeout=30,
                                   isolation_level=None)
        except sqlite3.Error as exc:
            raise ConnectorError(f"cannot open SQLite database {self.path}: {exc}") from None
        try:
            cur = conn.cursor()
            cur.execute("BEGIN IMMEDIATE" if write else "BEGIN")  # one transaction, reads included
            yield cur
            cur.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise ConnectorError(f"{target.dataset}: SQLite refused the erasure, nothing "
                                     f"changed ({exc})") from None
            raise
        finally:
            conn.close()

    def _check_columns(self, cur: sqlite3.Cursor, target: Target) -> None:
        # Needed, not cosmetic: SQLite reads a double-quoted name that is not a column as a
        # string literal, so a misspelt key field would silently match nothing.
        columns = [r[1] for r in cur.execute(f"PRAGMA table_info({_q(target.name)})").fetchall()]
        if not columns:
            raise ConnectorError(f"{target.dataset}: no table {target.name!r} in {self.path}")
        wanted = list(target.values()) + (list(target.mask_fields) if target.action != "delete"
                                          else [])
        known = {c.lower() for c in columns}
        missing = sorted({f for f in wanted if f.lower() not in known})
        if missing:
            raise ConnectorError(f"{target.dataset}: no column {', '.join(missing)} (the table has "
                                 f"{', '.join(columns)})")

    @staticmethod
    def _match(target: Target) -> tuple[str, list[str]]:
        clauses, params = [], []
        for f, values in target.values().items():
            if len(values) > 500:  # beyond SQLite's limit on bound variables: one JSON array
                clauses.append(f"CAST({_q(f)} AS TEXT) IN (SELECT value FROM json_each(?))")
                params.append(json.dumps(values))
            else:
                clauses.append(f"CAST({_q(f)} AS TEXT) IN ({','.join('?' * len(values))})")
                params.extend(values)
        return "(" + (" OR ".join(clauses) or "0") + ")", params

    @staticmethod
    def _changes(target: Target, strategy: str | None) -> tuple[str, list[str]]:
        cols = [_q(f) for f in target.mask_fields]
        if strategy == "null":
            return " AND (" + " OR ".join(f"{c} IS NOT NULL" for c in cols) + ")", []
        if strategy == "redact":
            return (" AND (" + " OR ".join(f"CAST({c} AS TEXT) <> ?" for c in cols) + ")",
                    [REDACTED] * len(cols))
        return "", []

    def _select(self, cur: sqlite3.Cursor, target: Target, where: str, params: list[str]
                ) -> list[tuple[Any, list[str | None]]]:
        texts = ", ".join(f"CAST({_q(f)} AS TEXT)" for f in target.mask_fields)
        try:
            cur.execute(f"SELECT rowid, {texts} FROM {_q(target.name)} WHERE {where}", params)
        except sqlite3.OperationalError as exc:
            if "rowid" not in str(exc):
                raise
            raise ConnectorError(f"{target.dataset}: a WITHOUT ROWID table cannot be anonymised "
                                 "by hash or partial masks; use the null or redact strategy, or "
                                 "delete") from None
        return _pending(cur.fetchall(), target.masker())

    def count(self, target: Target) -> int:
        strategy = target.check()
        where, params = self._match(target)
        with self._transaction(target, write=False) as cur:
            self._check_columns(cur, target)
            if strategy in ("hash", "partial"):
                return len(self._select(cur, target, where, params))
            changes, extra = self._changes(target, strategy)
            cur.execute(f"SELECT count(*) FROM {_q(target.name)} WHERE {where}{changes}",
                        [*params, *extra])
            return int(cur.fetchone()[0])

    def erase(self, target: Target) -> int:
        strategy = target.check()
        where, params = self._match(target)
        table = _q(target.name)
        with self._transaction(target, write=True) as cur:
            self._check_columns(cur, target)
            if strategy is None:
                cur.execute(f"DELETE FROM {table} WHERE {where}", params)
                return max(cur.rowcount, 0)
            cols = [_q(f) for f in target.mask_fields]
            if strategy in ("null", "redact"):  # constants: one UPDATE
                value = "NULL" if strategy == "null" else "?"
                sets = ", ".join(f"{c} = CASE WHEN {c} IS NULL THEN NULL ELSE {value} END"
                                 for c in cols)
                changes, extra = self._changes(target, strategy)
                consts = [REDACTED] * len(cols) if strategy == "redact" else []
                cur.execute(f"UPDATE {table} SET {sets} WHERE {where}{changes}",
                            [*consts, *params, *extra])
                return max(cur.rowcount, 0)
            pending = self._select(cur, target, where, params)
            if not pending:
                return 0
            sets = ", ".join(f"{c} = ?" for c in cols)
            cur.executemany(f"UPDATE {table} SET {sets} WHERE rowid = ?",
                            [[*masked, rowid] for rowid, masked in pending])
            return max(cur.rowcount, 0)


# -- files ----------------------------------------------------------------------------------
def _text(value: Any) -> str | None:
    """A JSON / Parquet value as the text a row is compared by."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class FileConnector:
    """CSV (header row), JSON lines, Parquet (with pyarrow) under the configured roots.

    A file is rewritten atomically (temporary file in the same directory, fsync, rename): readers
    see the old file or the new one. Rows that do not match are kept, in order.
    """

    kind = "file"

    def __init__(self, roots: Iterable[str], namespace: str = "file") -> None:
        self.namespace = namespace
        self.roots = [Path(r).resolve() for r in roots]

    def _path(self, name: str) -> Path:
        if not os.path.isabs(name):
            raise ConnectorError(f"file dataset {name!r} is not an absolute path")
        path = Path(name).resolve()  # symlinks and .. resolved before the check
        if not any(path.is_relative_to(r) for r in self.roots):
            raise ConnectorError(f"{name} is outside the configured file roots "
                                 f"({', '.join(map(str, self.roots)) or 'none'}): add its "
                                 "directory to roots in HEADWATER_CONNECTORS_FILE")
        if path.exists() and not path.is_file():
            raise ConnectorError(f"{name} is not a regular file")
        return path

    def count(self, target: Target) -> int:
        return self._run(target, write=False)

    def erase(self, target: Target) -> int:
        return self._run(target, write=True)

    def _run(self, target: Target, write: bool) -> int:
        strategy = target.check()
        path = self._path(target.name)
        if not path.exists():
            return 0  # already gone is erased
        suffix = path.suffix.lower()
        masker = target.masker() if strategy else None
        handler = {".csv": self._csv, ".jsonl": self._jsonl, ".ndjson": self._jsonl,
                   ".parquet": self._parquet}.get(suffix)
        if handler is None:
            raise ConnectorError(f"{path}: unsupported file type {suffix!r} (erasure reads .csv, "
                                 ".jsonl / .ndjson and .parquet)")

        def process(src: IO[bytes], dst: IO[bytes] | None) -> int:
            assert handler is not None
            return handler(path, src, dst, target, masker)
        if not write:
            with path.open("rb") as src:
                return process(src, None)
        return _rewrite(path, process)

    # Each format: read ``src``; when ``dst`` is given write the kept / masked rows to it.
    # Return the number of rows erased (or that would be).
    @staticmethod
    def _csv(path: Path, src: IO[bytes], dst: IO[bytes] | None, target: Target,
             masker: Callable[[str | None], str | None] | None) -> int:
        head = src.read(64 * 1024)
        src.seek(0)
        encoding = "utf-8-sig" if head.startswith(b"\xef\xbb\xbf") else "utf-8"
        first = head.split(b"\n", 1)[0]
        newline = "\r\n" if first.endswith(b"\r") else "\n"
        reader = csv.reader(io.TextIOWrapper(src, encoding=encoding, newline=""))
        header = next(reader, None)
        if header is None:
            return 0
        values = {f: set(vs) for f, vs in target.values().items()}
        wanted = list(values) + (list(target.mask_fields) if masker else [])
        missing = sorted({f for f in wanted if f not in header})
        if missing:
            raise ConnectorError(f"{target.dataset}: no column {', '.join(missing)} in the CSV "
                                 f"header ({', '.join(header)}; is it comma-separated?)")
        keys = [(header.index(f), vs) for f, vs in values.items()]
        masks = [i for i, h in enumerate(header) if h in target.mask_fields]
        out = None
        if dst is not None:
            text = io.TextIOWrapper(dst, encoding=encoding, newline="")
            out = csv.writer(text, lineterminator=newline)
            out.writerow(header)
        hits = 0
        for row in reader:
            hit = any(i < len(row) and row[i] in vs for i, vs in keys)
            if hit and masker is not None:  # anonymise: an empty cell is no value
                masked = list(row)
                for i in masks:
                    if i < len(row):
                        masked[i] = masker(row[i] or None) or ""
                hit = masked != row
                row = masked
            elif hit:
                hits += 1
                continue  # deleted
            hits += hit
            if out is not None:
                out.writerow(row)
        if dst is not None:
            text.flush()
            text.detach()
        return hits

    @staticmethod
    def _jsonl(path: Path, src: IO[bytes], dst: IO[bytes] | None, target: Target,
               masker: Callable[[str | None], str | None] | None) -> int:
        values = {f: set(vs) for f, vs in target.values().items()}
        seen: set[str] = set()
        objects = hits = 0
        for lineno, line in enumerate(src, 1):
            keep = line
            if line.strip():
                try:
                    row = json.loads(line)
                except ValueError as exc:
                    raise ConnectorError(f"{path}:{lineno}: not valid JSON ({exc}); nothing "
                                         "changed") from None
                if isinstance(row, dict):
                    objects += 1
                    seen.update(f for f in values if f in row)
                    if any(_text(row.get(f)) in vs for f, vs in values.items()):
                        if masker is None:
                            hits += 1
                            continue  # deleted
                        masked = {k: (masker(_text(v)) if k in target.mask_fields else v)
                                  for k, v in row.items()}
                        if masked != row:
                            hits += 1
                            end = b"\r\n" if line.endswith(b"\r\n") else b"\n"
                            keep = json.dumps(masked, ensure_ascii=False).encode() + end
            if dst is not None:
                dst.write(keep)  # rows that do not change are kept byte for byte
        missing = sorted(set(values) - seen)
        if objects and missing:
            raise ConnectorError(f"{target.dataset}: no row has the field {', '.join(missing)}; "
                                 "nothing changed")
        return hits

    @staticmethod
    def _parquet(path: Path, src: IO[bytes], dst: IO[bytes] | None, target: Target,
                 masker: Callable[[str | None], str | None] | None) -> int:
        try:
            import pyarrow as pa
            import pyarrow.compute as pc
            import pyarrow.parquet as pq
        except ImportError:
            raise ConnectorError("install pyarrow to erase from Parquet files") from None
        table = pq.read_table(src)
        values = target.values()
        wanted = list(values) + (list(target.mask_fields) if masker else [])
        missing = sorted({f for f in wanted if f not in table.column_names})
        if missing:
            raise ConnectorError(f"{target.dataset}: no column {', '.join(missing)} (the file "
                                 f"has {', '.join(table.column_names)})")
        hit = pa.array([False] * table.num_rows, pa.bool_())
        for f, vs in values.items():
            try:
                as_text = pc.cast(table[f], pa.string())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise ConnectorError(f"{target.dataset}: cannot compare column {f} as text "
                                     f"({exc})") from None
            hit = pc.or_(hit, pc.fill_null(pc.is_in(as_text, value_set=pa.array(vs, pa.string())),
                                           False))
        if masker is None:
            hits = int(pc.sum(hit).as_py() or 0)
            out = table.filter(pc.invert(hit))
        else:
            flags = hit.to_pylist()
            changed = [False] * table.num_rows
            out = table
            for f in target.mask_fields:
                old = [_text(v) for v in table[f].to_pylist()]
                new = [masker(v) if flag else v for v, flag in zip(old, flags, strict=True)]
                changed = [c or (a != b) for c, a, b in zip(changed, old, new, strict=True)]
                if new != old:
                    column = (pa.array(new, pa.string()) if any(v is not None for v in new)
                              else pa.nulls(len(new), table.schema.field(f).type))
                    out = out.set_column(out.column_names.index(f), f, column)
            hits = sum(changed)
        if dst is not None and hits:
            pq.write_table(out, dst)
        return hits


class _FileChanged(Exception):
    pass


def _rewrite(path: Path, process: Callable[[IO[bytes], IO[bytes] | None], int]) -> int:
    """Run ``process`` from ``path`` into a temporary file beside it and, if it erased rows,
    replace ``path`` with it atomically (fsync'd). The file is left alone when nothing matched."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".erasing")
    try:
        with path.open("rb") as src, os.fdopen(fd, "wb") as dst:
            before = os.fstat(src.fileno())
            hits = process(src, dst)
            if not hits:
                return 0
            dst.flush()
            os.fsync(dst.fileno())
            now = os.stat(path)
            if (now.st_ino, now.st_size, now.st_mtime_ns) != (
                    before.st_ino, before.st_size, before.st_mtime_ns):
                raise _FileChanged
            os.chmod(tmp, stat.S_IMODE(before.st_mode))
            with suppress(OSError):  # not ours to give away: then the new file keeps our owner
                os.chown(tmp, before.st_uid, before.st_gid)
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the rename itself survives a crash
        finally:
            os.close(dir_fd)
        return hits
    except _FileChanged:
        raise ConnectorError(f"{path} changed while it was being erased; nothing changed, try "
                             "again") from None
    finally:
        Path(tmp).unlink(missing_ok=True)


# -- configuration --------------------------------------------------------------------------
_KEYS = {"postgres": {"namespace", "dsn", "dsn_env"}, "sqlite": {"namespace"},
         "file": {"namespace", "roots"}, "webhook": {"namespace", "webhook", "secret_env"}}


@dataclass(frozen=True)
class ConnectorConfig:
    """One ``[[connector]]`` entry."""

    namespace: str
    dsn: str | None = None
    dsn_env: str | None = None
    roots: tuple[str, ...] = ()
    webhook: str | None = None
    secret_env: str | None = None

    @property
    def kind(self) -> str:
        if self.webhook is not None:
            return "webhook"
        if self.namespace == "file":
            return "file"
        return "sqlite" if self.namespace.startswith("sqlite://") else "postgres"

    @classmethod
    def parse(cls, raw: Mapping[str, Any], where: str) -> ConnectorConfig:
        """Validate one entry; ``where`` names it in errors (file and position)."""
        ns = raw.get("namespace")
        if not isinstance(ns, str) or not ns:
            raise ConnectorError(f"{where}: needs namespace = \"…\"")
        for key in ("dsn", "dsn_env", "webhook", "secret_env"):
            if key in raw and (not isinstance(raw[key], str) or not raw[key]):
                raise ConnectorError(f"{where} ({ns}): {key} must be a non-empty string")
        if "webhook" in raw:
            kind = "webhook"
            if not raw["webhook"].startswith(("https://", "http://")):
                raise ConnectorError(f"{where} ({ns}): webhook must be an http(s) URL")
        elif ns == "file":
            kind = "file"
            roots = raw.get("roots")
            if (not isinstance(roots, list) or not roots
                    or not all(isinstance(r, str) and os.path.isabs(r) for r in roots)):
                raise ConnectorError(f"{where} (file): roots must be a list of absolute "
                                     "directories, e.g. roots = [\"/srv/exports\"]")
        elif ns.startswith("sqlite://"):
            kind = "sqlite"
            if not ns.removeprefix("sqlite://").startswith("/"):
                raise ConnectorError(f"{where} ({ns}): a SQLite namespace is sqlite:// followed "
                                     "by the database file's absolute path")
        elif ns.startswith(("postgres://", "postgresql://")):
            kind = "postgres"
            if ("dsn" in raw) == ("dsn_env" in raw):
                raise ConnectorError(f"{where} ({ns}): needs dsn = \"postgresql://…\" or dsn_env = "
                                     "\"VARIABLE\" (one of them)")
            if "dsn" in raw:
                PostgresConnector(ns, raw["dsn"])  # refuses a malformed DSN now
        else:
            raise ConnectorError(f"{where}: no connector for namespace {ns!r}: PostgreSQL "
                                 "(postgres://host:port with dsn), SQLite (sqlite:///path), file "
                                 "(with roots), or webhook = \"url\"")
        unknown = sorted(set(raw) - _KEYS[kind])
        if unknown:
            raise ConnectorError(f"{where} ({ns}): unknown key {', '.join(unknown)} for a {kind} "
                                 f"connector (it takes {', '.join(sorted(_KEYS[kind]))})")
        return cls(ns, raw.get("dsn"), raw.get("dsn_env"), tuple(raw.get("roots", ())),
                   raw.get("webhook"), raw.get("secret_env"))


@dataclass(init=False)
class Connectors:
    """The configured connectors (``HEADWATER_CONNECTORS_FILE``, a TOML file). Erasure never
    reaches a system that is not configured here."""

    entries: list[ConnectorConfig]
    source: str

    def __init__(self, entries: Iterable[ConnectorConfig | Mapping[str, Any]] = (),
                 source: str = "(connectors)") -> None:
        self.source = source
        self.entries = []
        for n, e in enumerate(entries, 1):
            entry = e if isinstance(e, ConnectorConfig) else ConnectorConfig.parse(
                e, f"{source}: [[connector]] #{n}")
            if any(x.namespace == entry.namespace for x in self.entries):
                raise ConnectorError(f"{source}: namespace {entry.namespace!r} is configured "
                                     "twice")
            self.entries.append(entry)

    @classmethod
    def load(cls, path: Path | str | None) -> Connectors:
        """The connectors in a TOML file; none for ``None`` or ``""``."""
        if path is None or str(path) in ("", "."):
            return cls()
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except OSError as exc:
            raise ConnectorError(f"connectors file {path}: {exc.strerror or exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConnectorError(f"connectors file {path} is not valid TOML: {exc}") from None
        unknown = sorted(set(data) - {"connector"})
        if unknown:
            raise ConnectorError(f"connectors file {path}: unknown {', '.join(unknown)} (entries "
                                 "are [[connector]] tables)")
        entries = data.get("connector", [])
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise ConnectorError(f"connectors file {path}: write each connector as a "
                                 "[[connector]] table")
        return cls(entries, f"connectors file {path}")

    def _entry(self, namespace: str) -> ConnectorConfig | None:
        return next((e for e in self.entries if e.namespace == namespace), None)

    def kind(self, namespace: str) -> str | None:
        """The kind of connector configured for the namespace, without connecting."""
        entry = self._entry(namespace)
        return entry.kind if entry else None

    def for_dataset(self, namespace: str, name: str) -> Connector | Webhook | None:
        """The connector reaching a dataset, or None when its namespace has none (then the
        dataset is erased by hand). Environment variables are read now."""
        entry = self._entry(namespace)
        if entry is None:
            return None
        if entry.kind == "webhook":
            assert entry.webhook is not None
            return Webhook(namespace, entry.webhook, _env(entry.secret_env, "secret_env",
                                                          namespace, self.source))
        if entry.kind == "file":
            return FileConnector(entry.roots, namespace)
        if entry.kind == "sqlite":
            return SqliteConnector(namespace, namespace.removeprefix("sqlite://"))
        dsn = entry.dsn or _env(entry.dsn_env, "dsn_env", namespace, self.source)
        if not dsn:
            raise ConnectorError(f"the connector for {namespace} has no dsn ({self.source})")
        return PostgresConnector(namespace, dsn)


def _env(var: str | None, key: str, namespace: str, source: str) -> str | None:
    if not var:
        return None
    value = os.environ.get(var)
    if not value:
        raise ConnectorError(f"environment variable {var} is not set ({key} of the connector "
                             f"for {namespace} in {source})")
    return value
