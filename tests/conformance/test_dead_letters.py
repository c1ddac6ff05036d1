"""Dead letters on both backends: a batch's bad events are kept whole, in one transaction.

A producer whose serializer breaks sends batches of nothing but bad events; one commit per dead
letter (an fsync each on SQLite, a round trip and a transaction each on Neo4j) made such a batch
hold the single writer for seconds while valid ingestion queued behind it."""

from __future__ import annotations

import asyncio
import time

import orjson

from headwater.catalog import Store
from headwater.catalog.model import DeadLetterWrite
from headwater.ingestion.intake import GroupCommitter
from headwater.ingestion.service import Ingestion
from tests.factories import dataset, run_event, schema

NS = "postgres://db:5432"
BAD = 1000


def test_a_batch_of_dead_letters_is_kept_whole_in_one_transaction(store: Store) -> None:
    letters = [DeadLetterWrite(b'{"same": "payload"}', "invalid event",
                               [{"pointer": f"/{i}", "message": "Field required"}])
               for i in range(3)]
    ids = store.add_dead_letters(letters)
    assert len(set(ids)) == 3  # identical payloads of one batch are all kept
    kept = {d.id: d for d in store.dead_letters(limit=10)}
    assert set(kept) == set(ids)
    assert [kept[i].errors[0]["pointer"] for i in ids] == ["/0", "/1", "/2"]
    assert store.add_dead_letters([]) == []


def test_a_batch_of_bad_events_is_dead_lettered_completely_and_quickly(store: Store) -> None:
    good = run_event("COMPLETE", outputs=[dataset(NS, "kept", s=schema("a"))])
    bad = [{"eventTime": "not a time", "producer": "https://p", "run": {"runId": str(i)}}
           for i in range(BAD)]
    body = orjson.dumps([*bad[:500], good, *bad[500:]])

    async def ingest() -> tuple[int, int, float]:
        ingestion = Ingestion(GroupCommitter(store), max_body_bytes=16 << 20,
                              max_batch_events=BAD + 1)
        await ingestion.start()
        try:
            started = time.perf_counter()
            result = await ingestion.accept_batch(body)
            return result.invalid, result.created, time.perf_counter() - started
        finally:
            await ingestion.stop()

    invalid, created, seconds = asyncio.run(ingest())
    assert (invalid, created) == (BAD, 1)
    letters = store.dead_letters(limit=BAD + 10)
    assert len(letters) == BAD
    # Each letter keeps its own event and says where in the batch it was.
    assert sorted(int(d.errors[0]["pointer"].split("/")[1]) for d in letters) == sorted(
        [*range(500), *range(501, BAD + 1)])
    # One transaction: the whole batch was received (and committed) at one instant.
    assert len({d.received_at for d in letters}) == 1
    # Bounded: one transaction, not a thousand (generous for a loaded CI machine).
    assert seconds < 10, f"{BAD} dead letters took {seconds:.1f} s"
