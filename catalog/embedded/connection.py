"""Connections to the SQLite file: one writer behind a lock, a read connection per thread, and
the one transaction helper every write goes through."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from headwater.catalog.errors import StoreError

log = logging.getLogger("headwater.store")
_CHUNK = 900  # ids per IN (...) list, under SQLite's default limit of 999 parameters


class Checkpointer:
    """Copies a SQLite file's write-ahead log into it from a thread and a connection of their
    own, at most every ``every`` seconds and only after commits (``touch``): a passive
    checkpoint never blocks the writer. ``flush_log`` also fsyncs the log, for a writer that
    commits without (the decision log). Left to the writer, the catalog's checkpoint held one
    commit a second for 30-70 ms under sustained ingestion, and every producer waiting on it;
    the writer's own (when the log reaches ``wal_autocheckpoint`` pages, which also restarts
    the log) now finds little left to copy."""

    def __init__(self, path: Path, every: float, *, flush_log: bool = False) -> None:
        self._path, self._every, self._flush_log = path, every, flush_log
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def touch(self) -> None:
        """A commit was made: checkpoint at the next round (the first starts the thread)."""
        self._dirty.set()
        if self._thread is None:
            with self._lock:
                if self._thread is None and not self._stop.is_set():
                    self._thread = threading.Thread(target=self._run, daemon=True,
                                                    name=f"checkpoint {self._path.name}")
                    self._thread.start()

    def _run(self) -> None:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        try:
            while not self._stop.wait(self._every):
                self._round(conn)
            self._round(conn)
        finally:
            conn.close()

    def _round(self, conn: sqlite3.Connection) -> None:
        if not self._dirty.is_set():
            return
        self._dirty.clear()
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            if self._flush_log:
                fd = os.open(f"{self._path}-wal", os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        except (OSError, sqlite3.Error) as exc:  # the next round tries again
            self._dirty.set()
            log.warning("could not checkpoint %s: %s", self._path, exc)

    def stop(self) -> None:
        with self._lock:
            self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def private_file(path: Path) -> None:
    """The store holds raw payloads: its file is the owner's alone (0600), and so are the
    ``-wal`` and ``-shm`` files SQLite creates beside it (it gives them the database file's
    mode). A data directory Headwater creates is 0700. Files made before are left as they
    are, with a warning when others may read them."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        for existing in (path, path.with_name(path.name + "-wal"),
                         path.with_name(path.name + "-shm")):
            try:
                mode = existing.stat().st_mode & 0o777
            except FileNotFoundError:
                continue
            if mode & 0o077:
                log.warning("%s is readable by others (mode %o) and holds raw event payloads:"
                            " chmod 600 it (files Headwater creates are 0600)", existing, mode)


class Connections:
    """What every part of the embedded store stands on. Opening creates no table and writes
    nothing to the file: the schema is the migration steps' job (``migrate``), which first
    checks that the file is not newer than this code."""

    def __init__(self, path: str | Path, *, checkpoint_every: float = 0.25,
                 flush_log: bool = False) -> None:
        self.path = Path(path)
        private_file(self.path)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._writer = self._connect()
        self._checkpoints = Checkpointer(self.path, checkpoint_every, flush_log=flush_log)

    def _connect(self) -> sqlite3.Connection:
        # No PRAGMA here may write to the file; WAL mode (persistent, a write) is set by
        # migrate() once it knows the file is one this code understands.
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA synchronous=FULL")  # an acknowledged event survives power loss
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA cache_size=-65536")
        conn.execute("PRAGMA wal_autocheckpoint=20000")
        return conn

    @property
    def _db(self) -> sqlite3.Connection:
        """A read connection per thread: WAL readers never block the writer."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
            conn.execute("PRAGMA query_only=ON")
        return conn

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        cur = self._db.execute(sql, params)
        cur.row_factory = sqlite3.Row
        return cur.fetchall()

    def _in(self, sql: str, ids: Sequence[str]) -> list[sqlite3.Row]:
        """Run ``sql`` (with one ``{ids}`` placeholder) over ids in chunks."""
        rows: list[sqlite3.Row] = []
        for chunk in chunks(list(ids)):
            rows += self._rows(sql.format(ids=",".join("?" * len(chunk))), chunk)
        return rows

    @contextmanager
    def _transaction(self, fsync: bool = True) -> Iterator[sqlite3.Connection]:
        """The writer in one ``BEGIN IMMEDIATE`` transaction, committed when the block ends,
        rolled back if it raises (a SQLite error becomes ``StoreError``).

        ``fsync=False`` skips the WAL flush (synchronous=NORMAL): the commit survives a crash
        of the process but not a power loss, until the next durable commit (any event) or
        checkpoint flushes the log it was appended to."""
        with self._write_lock:
            db = self._writer
            try:
                if not fsync:
                    db.execute("PRAGMA synchronous=NORMAL")
                db.execute("BEGIN IMMEDIATE")
                yield db
                db.execute("COMMIT")
                self._checkpoints.touch()
            except sqlite3.Error as exc:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise StoreError(f"embedded store write failed: {exc}") from exc
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            finally:
                if not fsync:
                    db.execute("PRAGMA synchronous=FULL")

    def _edit(self, *statements: tuple[str, Sequence[Any]], fsync: bool = True) -> None:
        """Statements in one transaction (see ``_transaction``)."""
        with self._transaction(fsync) as db:
            for sql, params in statements:
                db.execute(sql, params)

    def ping(self) -> None:
        try:
            self._db.execute("SELECT 1").fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"embedded store at {self.path} is unusable: {exc}") from exc

    def close(self) -> None:
        self._checkpoints.stop()
        self._writer.close()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
