"""The one write path into the catalog, as a service: OpenLineage events one by one or in
batches, and quality results. Parse, validate, normalise, keep invalid events as dead letters,
submit through the group committer, count.

Errors are typed (``headwater.catalog.errors``), never told apart by their text: a body that is
not JSON is ``Malformed``, an event that fails validation ``Invalid`` (``InvalidEvent``), a body
or batch over a limit ``TooLarge``, a write the store refused ``StoreError``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import orjson
from pydantic import ValidationError

from headwater.catalog import EventWrite, StoreError
from headwater.catalog.errors import Conflict, TooLarge
from headwater.catalog.model import DeadLetterWrite, RunOfAnotherJob
from headwater.ingestion.intake import (
    BadLine,
    GroupCommitter,
    UnsupportedEncoding,
    count_events,
    decode_body,
    normalize,
    parse_json,
    parse_lines,
)
from headwater.ingestion.openlineage import InvalidEvent, MalformedEvent
from headwater.ingestion.quality import QualityBatch, quality_events

log = logging.getLogger("headwater.ingestion")

DEAD_LETTERED = ("the OpenLineage event is invalid and was not stored (it was kept in the "
                 "dead-letter store): fix the fields listed in 'errors'")
# What is kept when an invalid event cannot be written back as JSON at all.
_UNWRITABLE = b'{"headwater": "the event was nested too deeply to be kept; see the errors"}'
INLINE_PARSE_BYTES = 64 * 1024  # ~14 events of the benchmark's size, ~2 ms to parse
PARSE_THREADS = 2
V = TypeVar("V")


@dataclass(slots=True)
class Accepted:
    event_id: str
    new: bool  # False: a duplicate of an event already stored


@dataclass
class BatchAccepted:
    created: int
    duplicate: int
    invalid: int
    conflict: int
    results: list[dict[str, Any]]  # per event, in order: index, status, eventId or errors


@dataclass
class QualityAccepted:
    created: int
    duplicate: int


class Intake(Protocol):
    """What the API calls: ``Ingestion`` itself, or ``headwater.ingest_process``'s proxy to
    an ``Ingestion`` in a process of its own."""

    max_body_bytes: int

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def ping(self) -> None: ...
    async def accept(self, body: bytes, content_encoding: str | None = None) -> Accepted: ...
    async def accept_batch(self, body: bytes, content_encoding: str | None = None
                           ) -> BatchAccepted: ...
    async def accept_quality(self, body: bytes) -> QualityAccepted: ...


class _NotABatch(Exception):
    def __init__(self, error: InvalidEvent) -> None:
        self.error = error


class Ingestion:
    def __init__(self, committer: GroupCommitter, *, max_body_bytes: int,
                 max_batch_events: int) -> None:
        self.committer = committer
        self.max_body_bytes = max_body_bytes
        self.max_batch_events = max_batch_events
        self._parsing = ThreadPoolExecutor(PARSE_THREADS, thread_name_prefix="parse")

    async def _parsed(self, body: bytes, fn: Callable[[bytes], V]) -> V:
        """``fn(body)``: parsing and validating, on the server's event loop for a small body
        (a thread hand-off would cost more), else on a thread of their own: a batch of 100
        events is ~20 ms of Python, during which the loop would answer no one, the gate
        included."""
        if len(body) <= INLINE_PARSE_BYTES:
            return fn(body)
        return await asyncio.get_running_loop().run_in_executor(self._parsing, fn, body)

    async def start(self) -> None:
        await self.committer.start()

    async def stop(self) -> None:
        await self.committer.stop()

    async def ping(self) -> None:
        """Raise ``StoreError`` when the store cannot take writes."""
        await self.committer.ping()

    async def accept(self, body: bytes, content_encoding: str | None = None) -> Accepted:
        """One event, acknowledged once durably stored (or found to be a duplicate)."""
        body = await self._decode(body, content_encoding)
        try:
            event = await self._parsed(body, lambda b: normalize(parse_json(b)))
        except InvalidEvent as exc:
            await self._dead_letter(None, body, exc)
            summary = (f"{exc.errors[0]['message']}; nothing was stored (the body was kept in "
                       "the dead-letter store)" if isinstance(exc, MalformedEvent)
                       else DEAD_LETTERED)
            raise type(exc)(exc.errors, summary=summary) from None
        try:
            (result,) = await self.committer.submit([event])
        except StoreError as exc:
            raise StoreError(f"the event was NOT stored, retry later: {exc}") from exc
        if isinstance(result, RunOfAnotherJob):
            await self._refused(event, result)
            raise Conflict(f"{result.message()} (the event was kept in the dead-letter store)")
        count_events("stored" if result else "duplicate")
        return Accepted(event.event_id, result)

    async def accept_batch(self, body: bytes, content_encoding: str | None = None
                           ) -> BatchAccepted:
        """A JSON array or NDJSON of events: the valid ones stored in one go; the invalid ones
        (an NDJSON line that is not JSON among them) and those the store refused are
        dead-lettered and reported by index."""
        body = await self._decode(body, content_encoding)
        try:
            valid, invalid, results = await self._parsed(body, self._read_batch)
        except _NotABatch as exc:
            await self._dead_letter(None, body, exc.error)
            raise type(exc.error)(exc.error.errors, summary="the batch is not a JSON array or "
                                  "NDJSON (it was kept in the dead-letter store)") from None
        # The batch's dead letters in one transaction, not one commit each.
        await self._dead_letters(invalid)
        try:
            stored = await self.committer.submit([e for _, e in valid])
        except StoreError as exc:
            raise StoreError(f"no event of this batch was stored, retry it: {exc}") from exc
        refused: list[tuple[EventWrite, RunOfAnotherJob]] = []
        for (i, event), result in zip(valid, stored, strict=True):
            if isinstance(result, RunOfAnotherJob):
                refused.append((event, result))
                results[i] = {"index": i, "status": "conflict", "errors": [
                    {"pointer": f"/{i}/run/runId", "message": result.message()}]}
                continue
            results[i] = {"index": i, "status": "created" if result else "duplicate",
                          "eventId": event.event_id}
        await self._refused_all(refused)
        counts = {s: sum(r["status"] == s for r in results)
                  for s in ("created", "duplicate", "invalid", "conflict")}
        count_events("stored", counts["created"])
        count_events("duplicate", counts["duplicate"])
        return BatchAccepted(counts["created"], counts["duplicate"], counts["invalid"],
                             counts["conflict"], results)

    def _read_batch(self, body: bytes) -> tuple[list[tuple[int, EventWrite]],
                                                list[tuple[Any, bytes, InvalidEvent]],
                                                list[dict[str, Any]]]:
        """The batch's valid events (normalised, with their index), its invalid ones (what was
        parsed, the bytes to keep, why) and the results so far, by index."""
        try:
            raws = parse_lines(body)
        except InvalidEvent as exc:
            raise _NotABatch(exc) from None
        if len(raws) > self.max_batch_events:
            raise TooLarge(f"{len(raws)} events in one batch; the limit is "
                           f"{self.max_batch_events}: split the batch")
        results: list[dict[str, Any]] = []
        valid: list[tuple[int, EventWrite]] = []
        invalid: list[tuple[Any, bytes, InvalidEvent]] = []
        for i, raw in enumerate(raws):
            try:
                if isinstance(raw, BadLine):
                    raise raw.error
                valid.append((i, normalize(raw)))
                results.append({})
            except InvalidEvent as exc:
                located = InvalidEvent(exc.errors, prefix=f"/{i}")
                invalid.append((raw, raw.line if isinstance(raw, BadLine) else _payload(raw),
                                located))
                results.append({"index": i, "status": "invalid", "errors": located.errors})
        return valid, invalid, results

    async def accept_quality(self, body: bytes) -> QualityAccepted:
        """Quality results (``{source, results: [...]}``), stored once however often sent."""
        if len(body) > self.max_body_bytes:
            raise TooLarge(f"body of {len(body)} bytes exceeds the {self.max_body_bytes}-byte "
                           "limit; send fewer results per request")
        try:
            batch = await self._parsed(
                body, lambda b: QualityBatch.model_validate(parse_json(b)))
        except InvalidEvent as exc:
            raise type(exc)(exc.errors, summary="the body is not JSON") from None
        except ValidationError as exc:
            raise InvalidEvent(InvalidEvent.from_pydantic(exc).errors, summary=(
                "invalid quality results: fix the entries listed in 'errors'")) from None
        events = quality_events(batch)
        try:
            stored = await self.committer.submit(events)
        except StoreError as exc:
            raise StoreError(f"nothing was stored, retry later: {exc}") from exc
        new = sum(len(e.datasets[0].quality)
                  for e, s in zip(events, stored, strict=True) if s is True)
        return QualityAccepted(new, len(batch.results) - new)

    async def _decode(self, body: bytes, content_encoding: str | None) -> bytes:
        """The body without its ``Content-Encoding``; one that cannot be decoded is kept as a
        dead letter, then refused (400 or 415). A body over the limit is refused, not kept."""
        try:
            return decode_body(body, content_encoding, self.max_body_bytes)
        except (MalformedEvent, UnsupportedEncoding) as exc:
            errors = (exc.errors if isinstance(exc, MalformedEvent)
                      else [{"pointer": "", "message": str(exc)}])
            await self._keep([DeadLetterWrite(body, "undecodable body", errors)])
            raise

    async def _dead_letter(self, raw: Any, body: bytes | None, exc: InvalidEvent) -> None:
        await self._dead_letters([(raw, body if body is not None else _payload(raw), exc)])

    async def _dead_letters(self, invalid: Sequence[tuple[Any, bytes, InvalidEvent]]) -> None:
        """Invalid events (what was parsed, the bytes to keep, why) kept in one transaction,
        each logged."""
        letters = await self._keep([DeadLetterWrite(payload, "invalid event", exc.errors)
                                    for _, payload, exc in invalid])
        for letter, (raw, _, exc) in zip(letters, invalid, strict=True):
            run = raw.get("run") if isinstance(raw, dict) else None
            log.warning("invalid event dead-lettered", extra={
                "deadLetter": letter, "errors": exc.errors[:10],
                "runId": run.get("runId") if isinstance(run, dict) else None})

    async def _refused(self, event: EventWrite, refusal: RunOfAnotherJob) -> None:
        await self._refused_all([(event, refusal)])

    async def _refused_all(self, refused: Sequence[tuple[EventWrite, RunOfAnotherJob]]) -> None:
        letters = await self._keep([
            DeadLetterWrite(event.payload, "run of another job",
                            [{"pointer": "/run/runId", "message": refusal.message()}])
            for event, refusal in refused])
        for letter, (_, refusal) in zip(letters, refused, strict=True):
            log.warning("event refused: its run belongs to another job", extra={
                "deadLetter": letter, "runId": refusal.run_id, "job": refusal.job_id,
                "eventJob": refusal.event_job_id})

    async def _keep(self, letters: list[DeadLetterWrite]) -> list[str]:
        ids = await self.committer.dead_letters(letters)
        count_events("invalid", len(letters))
        return ids


def _payload(raw: Any) -> bytes:
    """An invalid event's JSON, to keep: orjson writes 254 levels, the standard library a few
    hundred more; past that only a note is kept (the errors say where it was too deep)."""
    try:
        return orjson.dumps(raw)
    except orjson.JSONEncodeError:
        pass
    try:
        return json.dumps(raw).encode()
    except (RecursionError, ValueError, TypeError):
        return _UNWRITABLE
