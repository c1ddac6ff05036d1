"""Worker processes of the server: pools of spawned processes that replace a worker that
dies, and whose workers stop on their own when the server is gone. ``WorkerPool`` takes calls
from any thread (heavy queries); ``SocketWorkers`` takes them from the event loop at the
least cost per call (the gate).

The server runs its latency-bound work (the event loop: every request, the gate's answer,
ingestion's acknowledgements) in one Python process, which has one GIL. Work that holds the
GIL for long (a heavy GraphQL query completing a result of 100,000 values; a gate decision
beside it) runs in these workers instead: the operating system shares the cores between
processes far more evenly than Python shares the GIL between threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import pickle
import signal
import socket
import struct
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar, cast

from headwater.catalog.errors import Unavailable
from headwater.logs import configure
from headwater.settings import Settings

V = TypeVar("V")
ORPHAN_CHECK_SECONDS = 1.0

log = logging.getLogger("headwater.workers")


def _exit_with(parent: int) -> None:
    # A server killed outright (SIGKILL, the OOM killer) cannot stop its workers: they stop
    # themselves once they are orphaned.
    while os.getppid() == parent:
        time.sleep(ORPHAN_CHECK_SECONDS)
    os._exit(0)


def start_worker(settings: Settings, niceness: int = 0) -> None:
    """What every worker does first: leave Ctrl-C to the server (it reaches the whole process
    group; the server stops its workers), log as the server does, stop when orphaned, and
    step ``niceness`` down in priority."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    configure(settings.log_format)  # the server's format and redaction, on the same stderr
    threading.Thread(target=_exit_with, args=(os.getppid(),), name="orphan-check",
                     daemon=True).start()
    if niceness:
        os.nice(niceness)


def _ready() -> None:
    """Nothing: submitted once per worker at start, so workers spawn then, not at the first
    call."""


class WorkerPool:
    """``processes`` spawned workers, each set up once by ``initializer(*initargs)``: all at
    once when the pool starts if ``eager``, else as calls need them. A worker that dies (a
    crash in native code, the OOM killer) breaks the pool: the calls in flight get
    :class:`Unavailable` (503), and the next call starts new workers."""

    def __init__(self, name: str, processes: int, initializer: Callable[..., None],
                 initargs: tuple[Any, ...], eager: bool = True) -> None:
        self.name = name
        self._processes = processes
        self._eager = eager
        self._initializer, self._initargs = initializer, initargs
        self._lock = threading.Lock()
        self._pool = self._start()
        self._broken: ProcessPoolExecutor | None = None  # the pool a call found broken

    def _start(self) -> ProcessPoolExecutor:
        # spawn, not fork: the server has threads (a forked child inherits their locks held).
        pool = ProcessPoolExecutor(self._processes, multiprocessing.get_context("spawn"),
                                   initializer=self._initializer, initargs=self._initargs)
        for _ in range(self._processes if self._eager else 0):
            pool.submit(_ready)
        return pool

    def submit(self, fn: Callable[..., V], *args: Any) -> Future[V]:
        """``fn(*args)`` in a worker, on new workers if the last call found the pool broken."""
        with self._lock:
            pool = self._pool
            if pool is self._broken:
                log.error("a %s worker process stopped: starting new ones", self.name)
                pool.shutdown(wait=False, cancel_futures=True)
                pool = self._pool = self._start()
        try:
            future = pool.submit(fn, *args)
        except BrokenProcessPool as exc:
            future = Future()
            future.set_exception(exc)
        future.add_done_callback(lambda f: self._note(pool, f))
        return future

    def _note(self, pool: ProcessPoolExecutor, future: Future[Any]) -> None:
        if not future.cancelled() and isinstance(future.exception(), BrokenProcessPool):
            self._broken = pool

    async def result(self, future: Future[V]) -> V:
        """The call's result; :class:`Unavailable` if its worker died."""
        try:
            return await asyncio.wrap_future(future)
        except BrokenProcessPool:
            raise Unavailable(f"the {self.name}'s worker process stopped while working; a new "
                              "one is starting: retry in a few seconds") from None

    async def call(self, fn: Callable[..., V], *args: Any) -> V:
        return await self.result(self.submit(fn, *args))

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


# ------------------------------------------------------------------ workers on a socket each

_FRAME = struct.Struct("!I")  # each message: its length, then a pickle


def send_message(writer: asyncio.StreamWriter, message: Any) -> None:
    """One message on a stream to or from a worker: its length, then its pickle."""
    data = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
    writer.write(_FRAME.pack(len(data)) + data)


async def read_message(reader: asyncio.StreamReader) -> Any:
    """The next message ``send_message`` sent, or None at the end of the stream (the other
    process closed its end, or died)."""
    try:
        size = _FRAME.unpack(await reader.readexactly(_FRAME.size))[0]
        return pickle.loads(await reader.readexactly(size))
    except (asyncio.IncompleteReadError, OSError):
        return None


def _serve(name: str, sock: socket.socket, initializer: Callable[..., None],
           initargs: tuple[Any, ...]) -> None:
    """A :class:`SocketWorkers` worker: set up, then answer calls one at a time until the
    server closes its end (or dies: the kernel closes it then too)."""
    initializer(*initargs)
    with sock, sock.makefile("rb") as calls:
        while header := calls.read(_FRAME.size):
            fn, args = pickle.loads(calls.read(_FRAME.unpack(header)[0]))
            try:
                reply = pickle.dumps((True, fn(*args)), pickle.HIGHEST_PROTOCOL)
            except Exception as exc:  # the caller's to raise, as the server's own would be
                exc.add_note(f"raised in the {name} worker process:\n{traceback.format_exc()}")
                try:
                    reply = pickle.dumps((False, exc), pickle.HIGHEST_PROTOCOL)
                except Exception:  # an error that does not pickle: its text does
                    reply = pickle.dumps((False, RuntimeError(repr(exc))),
                                         pickle.HIGHEST_PROTOCOL)
            sock.sendall(_FRAME.pack(len(reply)) + reply)


class _Worker:
    def __init__(self, name: str, initializer: Callable[..., None],
                 initargs: tuple[Any, ...]) -> None:
        self._sock, theirs = socket.socketpair()
        # spawn, not fork: the server has threads (a forked child inherits their locks held).
        self.process = multiprocessing.get_context("spawn").Process(
            target=_serve, args=(name, theirs, initializer, initargs), name=f"{name} worker",
            daemon=True)
        self.process.start()
        theirs.close()
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def call(self, fn: Callable[..., V], args: tuple[Any, ...]) -> tuple[bool, Any]:
        if self._streams is None:  # made in the event loop that calls, on first use
            self._loop = asyncio.get_running_loop()
            self._streams = await asyncio.open_connection(sock=self._sock)
        reader, writer = self._streams
        send_message(writer, (fn, args))
        await writer.drain()
        reply = await read_message(reader)
        if reply is None:
            raise EOFError(f"the {self.process.name} closed its socket")
        return cast(tuple[bool, Any], reply)

    def close(self) -> None:
        # At once (a transport closes only when its event loop next runs); OSError: the
        # worker is gone already.
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        if self._streams is not None and self._loop is not None and not self._loop.is_closed():
            self._streams[1].close()
        else:  # never used, or its event loop is gone
            self._sock.close()


class SocketWorkers:
    """``processes`` spawned workers, started with the pool and each set up once by
    ``initializer(*initargs)``, called from the event loop over a socket pair each.

    For latency-bound calls (the gate): a call is one write and one read on the event loop,
    where a ``ProcessPoolExecutor`` hands it through two threads of the server (its manager
    and its queue's feeder) and back through the manager, each handoff waiting for the GIL
    (~0.5 ms of a gate decision at the median, more in the tail). A worker that dies costs
    the call it was answering (or the next one it is given) :class:`Unavailable` (503), and a
    new worker takes its place. A worker whose server is gone reads the end of its socket and
    stops."""

    def __init__(self, name: str, processes: int, initializer: Callable[..., None],
                 initargs: tuple[Any, ...]) -> None:
        self.name = name
        self._start = lambda: _Worker(name, initializer, initargs)
        self._workers = [self._start() for _ in range(processes)]
        self._idle: asyncio.Queue[_Worker] | None = None  # made in the loop that calls

    async def call(self, fn: Callable[..., V], *args: Any) -> V:
        """``fn(*args)`` in a worker, in the order calls come. A caller that goes away (its
        task cancelled) does not take the worker with it: the call runs to its end, and
        the worker answers the next call only after that."""
        exchange = asyncio.ensure_future(self._exchange(fn, args))
        exchange.add_done_callback(lambda t: t.cancelled() or t.exception())  # never unread
        return await asyncio.shield(exchange)

    async def _exchange(self, fn: Callable[..., V], args: tuple[Any, ...]) -> V:
        if self._idle is None:
            self._idle = asyncio.Queue()
            for worker in self._workers:
                self._idle.put_nowait(worker)
        worker = await self._idle.get()
        try:
            ok, value = await worker.call(fn, args)
        except (OSError, EOFError, asyncio.IncompleteReadError):
            log.error("a %s worker process stopped: starting a new one", self.name)
            worker.close()
            worker = await asyncio.to_thread(self._replace, worker)
            raise Unavailable(f"the {self.name}'s worker process stopped while working; a new "
                              "one is starting: retry in a few seconds") from None
        finally:
            self._idle.put_nowait(worker)
        if not ok:
            raise value
        return cast(V, value)

    def _replace(self, dead: _Worker) -> _Worker:
        dead.process.join(timeout=1)
        worker = self._start()
        self._workers[self._workers.index(dead)] = worker
        return worker

    def shutdown(self) -> None:
        for worker in self._workers:
            worker.close()  # the worker reads the end of its socket and stops
        for worker in self._workers:
            worker.process.join(timeout=5)
            if worker.process.is_alive():
                worker.process.kill()
