"""Ingestion in a process of its own (``HEADWATER_INGEST_PROCESS``, on by default).

The server's work per event is one core's at most: its event loop (HTTP) and its writer
thread (the store's transaction) share one GIL, and single POSTs used 0.9 of a core on a
machine with a second one idle. Here the server reads the request and hands its body over;
the ingestion process parses, validates, normalises, keeps dead letters and writes, with the
same ``Ingestion`` service and group committer, on its own interpreter. Many calls are in
flight at once on one socket pair, each with its id, so the group committer still makes one
transaction of everything that arrives while the previous one commits. An answer comes back
only once its events are committed: nothing is acknowledged that the ingestion process has
not stored.

A process that dies costs its calls in flight a 503 (nothing is acknowledged, so the
producer's retry is safe: a stored event comes back as a duplicate), and a new one starts.
The metrics ingestion counts travel with the answers, so the server's ``/metrics`` shows them
by the time a producer has its answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import logging
import multiprocessing
import socket
import traceback
from multiprocessing.process import BaseProcess
from typing import Any

from headwater.api.app import GC_THRESHOLDS
from headwater.catalog import StoreError, open_store
from headwater.catalog.errors import HeadwaterError, Unavailable
from headwater.ingestion import intake
from headwater.ingestion.service import Accepted, BatchAccepted, Ingestion, QualityAccepted
from headwater.settings import Settings
from headwater.workers import read_message, send_message, start_worker

log = logging.getLogger("headwater.ingestion")

_READY = 0  # the id of the message a new process sends once it takes calls


def build_ingestion(settings: Settings, committer: intake.GroupCommitter) -> Ingestion:
    return Ingestion(committer, max_body_bytes=settings.max_body_bytes,
                     max_batch_events=settings.max_batch_events)


def _main(settings: Settings, sock: socket.socket) -> None:
    """The ingestion process: answer calls until the server closes its end (or dies)."""
    start_worker(settings)
    intake.hold_observations()
    with contextlib.suppress(ImportError):  # the server's event loop (uvicorn's choice)
        import uvloop

        uvloop.install()
    asyncio.run(_serve(settings, sock))


async def _serve(settings: Settings, sock: socket.socket) -> None:
    store = open_store(settings.store, **settings.store_options())
    ingestion = build_ingestion(settings, intake.GroupCommitter(store))
    await ingestion.start()
    gc.freeze()  # as the server does (headwater.api.app)
    gc.set_threshold(*GC_THRESHOLDS)
    reader, writer = await asyncio.open_connection(sock=sock)
    send_message(writer, (_READY, True, None, []))
    answering: set[asyncio.Task[None]] = set()

    async def answer(call: int, method: str, args: tuple[Any, ...]) -> None:
        try:
            reply = (call, True, await getattr(ingestion, method)(*args))
        except Exception as exc:  # the server's to raise, as its own would be
            if not isinstance(exc, HeadwaterError):
                exc.add_note(f"raised in the ingestion process:\n{traceback.format_exc()}")
            reply = (call, False, exc)
        observed = intake.take_observations()
        try:
            send_message(writer, (*reply, observed))
        except Exception as exc:  # an error that does not pickle: its text does
            send_message(writer, (call, False, RuntimeError(repr(exc)), observed))
        await writer.drain()

    try:
        while (message := await read_message(reader)) is not None:
            task = asyncio.create_task(answer(*message))
            answering.add(task)
            task.add_done_callback(answering.discard)
        await asyncio.gather(*answering)  # what was asked before the server closed its end
    finally:
        await ingestion.stop()
        store.close()
        writer.close()


class IngestionProcess:
    """``Ingestion``'s calls (accept, accept_batch, accept_quality, ping), answered by a
    spawned process of its own; ``start`` and ``stop`` start and stop it."""

    def __init__(self, settings: Settings) -> None:
        self.max_body_bytes = settings.max_body_bytes
        self._settings = settings
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._process: BaseProcess | None = None
        self._up: asyncio.Task[None] | None = None  # the current process's start
        self._reading: asyncio.Task[None] | None = None  # the current process's answers
        self._stopping = False

    async def start(self) -> None:
        self._up = asyncio.create_task(self._launch())
        await self._up

    async def _launch(self) -> None:
        ours, theirs = socket.socketpair()
        # spawn, not fork: the server has threads (a forked child inherits their locks held).
        process = multiprocessing.get_context("spawn").Process(
            target=_main, args=(self._settings, theirs), name="ingestion", daemon=True)
        await asyncio.to_thread(process.start)
        theirs.close()
        reader, writer = await asyncio.open_connection(sock=ours)
        ready = await read_message(reader)
        if ready is None:
            writer.close()
            await asyncio.to_thread(process.join, 5)
            raise Unavailable(f"the ingestion process stopped while starting (exit code "
                              f"{process.exitcode}): see the log above")
        self._process, self._writer = process, writer
        self._reading = asyncio.create_task(self._answers(reader, writer, process),
                                            name="ingestion-answers")

    async def _answers(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                       process: BaseProcess) -> None:
        while (message := await read_message(reader)) is not None:
            call, ok, value, observations = message
            intake.observe(observations)
            future = self._waiting.pop(call, None)
            if future is None or future.done():  # its caller went away
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
        # The end of its answers: the process stopped (asked to, or not).
        writer.close()
        lost, self._waiting = self._waiting, {}
        for future in lost.values():
            if not future.done():
                future.set_exception(Unavailable(
                    "the ingestion process stopped while storing this; it was not "
                    "acknowledged: retry in a few seconds (an event already stored comes back "
                    "as a duplicate)"))
        if self._writer is writer and not self._stopping:
            await asyncio.to_thread(process.join, 1)
            log.error("the ingestion process stopped (exit code %s): starting a new one",
                      process.exitcode)
            self._writer = None
            self._up = asyncio.create_task(self._launch())

    async def _call(self, method: str, *args: Any) -> Any:
        if self._writer is None and self._up is not None:
            try:
                await asyncio.shield(self._up)
            except Unavailable:
                self._up = asyncio.create_task(self._launch())  # try again next time
                raise
        if self._writer is None or self._writer.is_closing():
            raise Unavailable("the ingestion process is not running: retry in a few seconds")
        call = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[call] = future
        send_message(self._writer, (call, method, args))
        try:
            return await future
        finally:
            self._waiting.pop(call, None)

    async def accept(self, body: bytes, content_encoding: str | None = None) -> Accepted:
        result: Accepted = await self._call("accept", body, content_encoding)
        return result

    async def accept_batch(self, body: bytes, content_encoding: str | None = None
                           ) -> BatchAccepted:
        result: BatchAccepted = await self._call("accept_batch", body, content_encoding)
        return result

    async def accept_quality(self, body: bytes) -> QualityAccepted:
        result: QualityAccepted = await self._call("accept_quality", body)
        return result

    async def ping(self) -> None:
        """``StoreError`` when the store cannot take writes; ``Unavailable`` when the process
        is not running."""
        try:
            await self._call("ping")
        except Unavailable as exc:
            raise StoreError(str(exc)) from None

    async def stop(self) -> None:
        """Let the process answer what it was asked, then stop it."""
        self._stopping = True
        writer, process = self._writer, self._process
        if writer is None or process is None:
            return
        with contextlib.suppress(OSError):  # the process reads the end, answers, stops
            writer.write_eof()
        await asyncio.to_thread(process.join, 30)
        if process.is_alive():
            log.error("the ingestion process did not stop within 30 s: killing it")
            process.kill()
