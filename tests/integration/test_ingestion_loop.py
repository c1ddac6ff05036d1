"""A big batch is parsed and validated off the server's event loop: while it is, the loop
keeps answering (the gate, small reads, single events); on the loop it stalled them all for
the whole parse."""

from __future__ import annotations

import asyncio
import gc
import sys
import time
from pathlib import Path

import orjson

from bench.synthetic import events
from headwater.catalog import open_store
from headwater.ingestion.intake import GroupCommitter, normalize, parse_lines
from headwater.ingestion.service import Ingestion

EVENTS = 2000


def timed(fn: object) -> float:
    started = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - started


def test_a_big_batch_leaves_the_event_loop_free(tmp_path: Path) -> None:
    store = open_store("embedded", path=tmp_path / "headwater.db")
    ingestion = Ingestion(GroupCommitter(store), max_body_bytes=64 * 2**20,
                          max_batch_events=10_000)
    body = orjson.dumps(list(events(datasets=2 * EVENTS, jobs=EVENTS)))

    async def scenario() -> float:
        gaps: list[float] = []
        running = True

        async def tick() -> None:
            last = time.perf_counter()
            while running:
                await asyncio.sleep(0.002)
                now = time.perf_counter()
                gaps.append(now - last)
                last = now

        await ingestion.start()
        try:
            ticker = asyncio.create_task(tick())
            await asyncio.sleep(0.01)
            assert (await ingestion.accept_batch(body)).created == EVENTS
            running = False
            await ticker
        finally:
            await ingestion.stop()
        return max(gaps)

    gc.disable()  # a collector pass stops every thread: not what this measures
    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.001)  # as `headwater serve` sets it
    try:
        parse = min(timed(lambda: [normalize(raw) for raw in parse_lines(body)])
                    for _ in range(3))
        longest = asyncio.run(scenario())
    finally:
        sys.setswitchinterval(interval)
        gc.enable()
        store.close()
    assert longest < parse / 2, f"the loop stalled {longest:.3f} s; the parse takes {parse:.3f} s"
