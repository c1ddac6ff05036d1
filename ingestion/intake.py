"""Group commit: many concurrent requests, one store transaction, each acknowledged only after
its events are committed.

Requests hand their normalised events to ``GroupCommitter.submit`` and wait. One writer task
takes everything queued while the previous transaction ran and writes it as one batch on a
dedicated thread, so the cost of a commit (an fsync, a Neo4j transaction) is shared by every
request in the batch.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
import zlib
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from prometheus_client import Counter, Histogram

from headwater.catalog import EventWrite, Store
from headwater.catalog.errors import TooLarge, Unsupported
from headwater.catalog.model import DeadLetterWrite, WriteResult
from headwater.ingestion.normalize import normalize
from headwater.ingestion.openlineage import InvalidEvent, MalformedEvent

log = logging.getLogger("headwater.ingestion")

EVENTS = Counter("headwater_ingest_events_total", "OpenLineage events received", ["result"])
BATCH_SIZE = Histogram(
    "headwater_ingest_commit_batch_events", "Events per group commit",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096),
)
COMMIT_SECONDS = Histogram("headwater_store_commit_seconds", "Store write transaction latency")

# In the ingestion process (headwater.ingest_process) nobody scrapes these metrics: what they
# would count is kept here instead, and sent to the server with the next answer.
_held: list[tuple[str, str | float, float]] | None = None


def hold_observations() -> None:
    """Keep this process's observations for ``take_observations`` (the ingestion process)."""
    global _held
    _held = []


def take_observations() -> list[tuple[str, str | float, float]]:
    """What was observed since the last call (nothing unless ``hold_observations``)."""
    global _held
    if not _held:
        return []
    held, _held = _held, []
    return held


def observe(observations: list[tuple[str, str | float, float]]) -> None:
    """Count what the ingestion process observed, in this process's metrics."""
    for kind, label, value in observations:
        if kind == "events":  # (result, how many)
            EVENTS.labels(str(label)).inc(value)
        else:  # a commit: (seconds, events)
            COMMIT_SECONDS.observe(float(label))
            BATCH_SIZE.observe(value)


def count_events(result: str, n: int = 1) -> None:
    """Events received, by ``result`` (stored, duplicate, invalid)."""
    if not n:
        return
    if _held is None:
        EVENTS.labels(result).inc(n)
    else:
        _held.append(("events", result, n))


def _count_commit(seconds: float, events: int) -> None:
    if _held is None:
        COMMIT_SECONDS.observe(seconds)
        BATCH_SIZE.observe(events)
    else:
        _held.append(("commit", seconds, events))


class PayloadTooLarge(TooLarge):
    """A body (or what it decompresses to) over the configured limit."""


class UnsupportedEncoding(Unsupported):
    """A ``Content-Encoding`` the service does not decode (``br``, ``zstd``, ...)."""


ENCODINGS = ("gzip", "deflate", "identity")
_GZIP = 16 + zlib.MAX_WBITS
_SLICE = 64 * 1024
MAX_MEMBERS = 1000
_NOT_ONE = "body is not valid JSON (one JSON document was expected)"


def _undecodable(message: str) -> MalformedEvent:
    return MalformedEvent([{"pointer": "", "message": message}])


def _inflate(body: bytes, wbits: int, name: str, limit: int) -> bytes:
    """Decompress every member of ``body`` (gzip allows several, concatenated: they are one
    stream, as ``gzip.decompress`` reads them), never letting the output pass ``limit``. A
    truncated member or anything but zero padding after the last one is refused: a body is
    read whole or not at all. Input is fed in slices so that many tiny members cost linear
    time, and at most ``MAX_MEMBERS`` members are read."""
    out = bytearray()
    view, pos, members = memoryview(body), 0, 0
    while True:
        members += 1
        if members > MAX_MEMBERS:
            raise _undecodable(f"body has more than {MAX_MEMBERS} {name} members: compress it "
                               "as one")
        d = zlib.decompressobj(wbits)
        while not d.eof:
            if pos >= len(view):
                raise _undecodable(f"body is not valid {name}: the compressed data is truncated")
            piece = view[pos : pos + _SLICE]
            pos += len(piece)
            try:
                out += d.decompress(piece, limit + 1 - len(out))
            except zlib.error as exc:
                raise _undecodable(f"body is not valid {name}: {exc}") from None
            if len(out) > limit or d.unconsumed_tail:
                raise PayloadTooLarge(f"decompressed body exceeds {limit} bytes")
        pos -= len(d.unused_data)
        if wbits == _GZIP and view[pos : pos + 2] == b"\x1f\x8b":
            continue  # another member
        rest = view[pos:].tobytes()
        if rest.strip(b"\0"):
            raise _undecodable(f"body is not valid {name}: {len(rest)} bytes that are not "
                               f"{name} follow the compressed data")
        return bytes(out)


def _zlib_header(body: bytes) -> bool:
    """HTTP's ``deflate`` is the zlib format (RFC 1950), but some clients send raw deflate
    (RFC 1951): a zlib header is a deflate method byte and a check sum divisible by 31."""
    return len(body) >= 2 and body[0] & 0x0F == 8 and int.from_bytes(body[:2], "big") % 31 == 0


def decode_body(body: bytes, encoding: str | None, limit: int) -> bytes:
    """Undo ``Content-Encoding`` (gzip, deflate, identity, or a list of them, applied in
    order) without letting a small bomb expand past ``limit``. An encoding the service does
    not speak is ``UnsupportedEncoding`` (415); a body that does not decode, ``Malformed``."""
    if not encoding:
        if len(body) > limit:
            raise PayloadTooLarge(f"body exceeds {limit} bytes")
        return body
    codings = [c.strip().lower() for c in encoding.split(",") if c.strip()]
    for c in codings:
        if c not in ENCODINGS and c != "x-gzip":
            raise UnsupportedEncoding(
                f"Content-Encoding {c!r} is not supported: send the body as "
                f"{', '.join(ENCODINGS)} (or a list of them)")
    for c in reversed(codings):  # the last coding named was applied last
        if c in ("gzip", "x-gzip"):
            body = _inflate(body, _GZIP, "gzip", limit)
        elif c == "deflate":
            body = _inflate(body, zlib.MAX_WBITS if _zlib_header(body) else -zlib.MAX_WBITS,
                            "deflate", limit)
    if len(body) > limit:
        raise PayloadTooLarge(f"body exceeds {limit} bytes")
    return body


def parse_json(body: bytes) -> Any:
    """One JSON document (a single event's body): two documents in a row, or anything after
    the first, is ``Malformed``."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise _undecodable(f"{_NOT_ONE}: {exc}") from None


def parse_many(body: bytes) -> list[Any]:
    """A JSON array of events, or NDJSON (one event per line); any line that is not JSON
    refuses the whole body (``parse_lines`` keeps the others)."""
    stripped = body.lstrip()
    if stripped.startswith(b"["):
        data = parse_json(body)
        return data if isinstance(data, list) else [data]
    return [parse_json(line) for line in body.splitlines() if line.strip()]


@dataclass(slots=True)
class BadLine:
    """An NDJSON line that is not JSON: reported at its index, kept as a dead letter."""

    line: bytes
    error: MalformedEvent


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for the block. A batch of 500 events parses into
    ~150,000 dicts and lists, all alive until the batch is stored: the collector would run
    every 10,000 of them (the server's threshold) and, every tenth run, go over all the young
    ones again, to find nothing (parsed JSON holds no cycles). Collections due are made up
    for by the first allocation after the block, in one pass."""
    if not gc.isenabled():  # another thread's block, or the process's choice: leave it
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def parse_lines(body: bytes) -> list[Any]:
    """A batch: a JSON array of events (which must parse whole), or NDJSON, where a line that
    does not parse becomes a ``BadLine`` in its place and the other lines still count."""
    stripped = body.lstrip()
    with collector_paused():
        if stripped.startswith(b"["):
            data = parse_json(body)
            return data if isinstance(data, list) else [data]
        out: list[Any] = []
        for line in body.splitlines():
            if not line.strip():
                continue
            try:
                out.append(orjson.loads(line))
            except orjson.JSONDecodeError as exc:
                out.append(BadLine(line, _undecodable(f"line is not valid JSON: {exc}")))
        return out


def _write(store: Store, events: Sequence[EventWrite]) -> list[WriteResult]:
    """The store's write, with the collector paused: the rows it builds (tens of thousands of
    tuples for a batch of 500) are freed before it returns, and a pass would only go over the
    parsed events of the next batches, alive in the meantime."""
    with collector_paused():
        return store.write_events(events)


@dataclass
class _Pending:
    events: Sequence[EventWrite]
    future: asyncio.Future[list[WriteResult]] = field(repr=False)


class GroupCommitter:
    def __init__(self, store: Store, *, max_batch: int = 2000) -> None:
        self.store = store
        self.max_batch = max_batch
        self._queue: asyncio.Queue[_Pending | None] = asyncio.Queue()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-writer")
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="group-commit")

    async def stop(self) -> None:
        if self._task is not None:
            await self._queue.put(None)
            await self._task
            self._task = None
        self._executor.shutdown(wait=True)

    async def submit(self, events: Sequence[EventWrite]) -> list[WriteResult]:
        """Resolve once ``events`` are durably committed: per event, new (True), duplicate
        (False) or refused by the store (``RunOfAnotherJob``)."""
        if not events:
            return []
        if self._task is None:
            raise RuntimeError("GroupCommitter.start() was not called")
        fut: asyncio.Future[list[WriteResult]] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(events, fut))
        return await fut

    async def call(self, fn: Any, *args: Any) -> Any:
        """Run another write (dead letters, steward edits) on the writer thread."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def dead_letter(self, payload: bytes, reason: str, errors: list[dict[str, str]]) -> str:
        """Keep what could not be stored, on the writer thread; its dead-letter id."""
        (letter,) = await self.dead_letters([DeadLetterWrite(payload, reason, errors)])
        return letter

    async def dead_letters(self, letters: Sequence[DeadLetterWrite]) -> list[str]:
        """Keep a batch's dead letters in one transaction, on the writer thread; their ids."""
        if not letters:
            return []
        ids: list[str] = await self.call(self.store.add_dead_letters, letters)
        return ids

    async def ping(self) -> None:
        """Raise ``StoreError`` when the store cannot answer (asked on the writer thread)."""
        await self.call(self.store.ping)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            first = await self._queue.get()
            if first is None:
                return
            batch, size, stop = [first], len(first.events), False
            while size < self.max_batch and not self._queue.empty():
                item = self._queue.get_nowait()
                if item is None:
                    stop = True
                    break
                batch.append(item)
                size += len(item.events)
            await self._commit(loop, batch)
            if stop:
                return

    async def _commit(self, loop: asyncio.AbstractEventLoop, batch: list[_Pending]) -> None:
        events = [e for p in batch for e in p.events]
        started = time.perf_counter()
        try:
            results = await loop.run_in_executor(self._executor, _write, self.store, events)
        except Exception as exc:
            if len(batch) > 1:
                # Isolate the request that broke the transaction; the others still land.
                for p in batch:
                    await self._commit(loop, [p])
                return
            log.exception("store write failed", extra={
                "eventIds": [e.event_id for e in batch[0].events][:20],
                "runIds": sorted({e.run.id for e in batch[0].events if e.run})[:20]})
            if not batch[0].future.done():
                batch[0].future.set_exception(exc)
            return
        _count_commit(time.perf_counter() - started, len(events))
        i = 0
        for p in batch:
            n = len(p.events)
            if not p.future.done():
                p.future.set_result(results[i : i + n])
            i += n


__all__ = [
    "BadLine",
    "GroupCommitter",
    "InvalidEvent",
    "MalformedEvent",
    "PayloadTooLarge",
    "UnsupportedEncoding",
    "count_events",
    "decode_body",
    "normalize",
    "parse_json",
    "parse_lines",
    "parse_many",
]
