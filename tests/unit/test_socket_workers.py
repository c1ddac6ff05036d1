"""The gate's worker processes (headwater.workers.SocketWorkers): every caller gets its own
answer, even when a caller goes away mid-call or a worker dies; a worker's error reaches the
caller as the error it is; a worker whose server is gone stops."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from headwater.catalog.errors import Invalid, Unavailable
from headwater.workers import SocketWorkers

V = TypeVar("V")


def _setup() -> None:
    """Nothing to set up: the workers under test need no store."""


def echo(value: object, delay: float = 0.0) -> object:
    time.sleep(delay)
    return value


def refuse(message: str) -> None:
    raise Invalid.one(message)


def pid() -> int:
    return os.getpid()


def die() -> None:
    os._exit(1)


def with_workers(processes: int, test: Callable[[SocketWorkers], Awaitable[V]]) -> V:
    async def main() -> V:
        pool = SocketWorkers("test", processes, _setup, ())
        try:
            return await test(pool)
        finally:
            pool.shutdown()

    return asyncio.run(main())


def test_each_caller_gets_its_own_answer() -> None:
    async def test(pool: SocketWorkers) -> list[object]:
        return await asyncio.gather(*(pool.call(echo, n, 0.01 * (n % 3)) for n in range(20)))

    assert with_workers(2, test) == list(range(20))


def test_a_workers_error_is_raised_as_itself() -> None:
    async def test(pool: SocketWorkers) -> object:
        with pytest.raises(Invalid, match="not a job"):
            await pool.call(refuse, "not a job")
        return await pool.call(echo, "still answers")

    assert with_workers(1, test) == "still answers"


def test_a_caller_that_goes_away_does_not_get_the_next_caller_its_answer() -> None:
    async def test(pool: SocketWorkers) -> object:
        slow = asyncio.ensure_future(pool.call(echo, "late", 0.3))
        await asyncio.sleep(0.1)
        slow.cancel()  # the client hung up; the worker is still deciding
        return await pool.call(echo, "mine")

    assert with_workers(1, test) == "mine"


def test_a_dead_worker_costs_one_call_and_is_replaced() -> None:
    async def test(pool: SocketWorkers) -> tuple[int, int]:
        first = await pool.call(pid)
        with pytest.raises(Unavailable, match="retry"):
            await pool.call(die)
        return first, await pool.call(pid)

    first, second = with_workers(1, test)
    assert first != second


def test_workers_stop_when_their_server_is_killed(tmp_path: Path) -> None:
    (tmp_path / "server.py").write_text(textwrap.dedent("""
        import asyncio, time
        from headwater.workers import SocketWorkers
        from tests.unit.test_socket_workers import _setup, pid

        async def main():
            pool = SocketWorkers("test", 1, _setup, ())
            print(await pool.call(pid), flush=True)
            time.sleep(60)

        if __name__ == "__main__":
            asyncio.run(main())
    """))
    server = subprocess.Popen([sys.executable, str(tmp_path / "server.py")],
                              stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        assert server.stdout is not None
        worker = int(server.stdout.readline())
        os.kill(server.pid, signal.SIGKILL)
        server.wait()
        deadline = time.monotonic() + 10
        while _alive(worker):
            assert time.monotonic() < deadline, "the worker outlived its server"
            time.sleep(0.1)
    finally:
        server.kill()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True,
                           text=True).stdout.strip()
    return state not in ("", "Z")
