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
from headwater.ingestion.intake import GroupCommitter
from headwater.ingestion.service import Ingestion

EVENTS = 2000


def test_a_big_batch_leaves_the_event_loop_free(tmp_path: Path) -> None:
    store = open_store("embedded", path=tmp_path / "headwater.db")
    ingestion = Ingestion(GroupCommitter(store), max_body_bytes=64 * 2**20,
                          max_batch_events=10_000)
    body = b"\n".join(orjson.dumps(e) for e in events(datasets=2 * EVENTS, jobs=EVENTS))
    writes: list[float] = []
    write = store.write_events

    def timed_write(batch: list) -> list:  # type: ignore[type-arg]
        writes.append(time.perf_counter())
        return write(batch)

    store.write_events = timed_write  # type: ignore[method-assign]

    async def scenario() -> tuple[int, float]:
        ticks: list[float] = []
        running = True

        async def tick() -> None:  # what the gate's handler needs: turns of the loop
            while running:
                await asyncio.sleep(0.002)
                ticks.append(time.perf_counter())

        await ingestion.start()
        try:
            ticker = asyncio.create_task(tick())
            await asyncio.sleep(0.01)
            started = time.perf_counter()
            assert (await ingestion.accept_batch(body)).created == EVENTS
            running = False
            await ticker
        finally:
            await ingestion.stop()
        # The loop's turns while the batch was parsed and validated, before its write began.
        return sum(started < t < writes[0] for t in ticks), writes[0] - started

    gc.disable()  # a collector pass stops every thread: not what this measures
    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.001)  # as `headwater serve` sets it
    try:
        turns, parsing = asyncio.run(scenario())
    finally:
        sys.setswitchinterval(interval)
        gc.enable()
        store.close()
    # Parsed on the loop, the loop takes no turn at all until the write is handed off.
    assert turns >= 5, f"the loop took {turns} turns in the {parsing:.3f} s of the parse"
