"""The ingestion service in process, on a real embedded store, driven from synchronous tests."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from headwater.catalog import open_store
from headwater.catalog.model import DeadLetter
from headwater.ingestion.intake import GroupCommitter
from headwater.ingestion.service import Accepted, BatchAccepted, Ingestion


class InProcess:
    def __init__(self, path: Path, *, max_body_bytes: int = 1 << 20,
                 max_batch_events: int = 1000) -> None:
        self.store = open_store("embedded", path=path)
        self.ingestion = Ingestion(GroupCommitter(self.store), max_body_bytes=max_body_bytes,
                                   max_batch_events=max_batch_events)
        self.loop = asyncio.new_event_loop()
        self.run(self.ingestion.start())

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def accept(self, body: bytes, encoding: str | None = None) -> Accepted:
        return self.run(self.ingestion.accept(body, encoding))  # type: ignore[no-any-return]

    def batch(self, body: bytes, encoding: str | None = None) -> BatchAccepted:
        return self.run(self.ingestion.accept_batch(body, encoding))  # type: ignore[no-any-return]

    def dead_letters(self) -> list[DeadLetter]:
        return self.store.dead_letters(limit=1000)

    def close(self) -> None:
        self.run(self.ingestion.stop())
        self.loop.close()
        self.store.close()
