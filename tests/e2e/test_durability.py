"""An acknowledged event is never lost: SIGKILL the server under load, restart, check."""

from __future__ import annotations

import signal
import threading
import time
import uuid

import httpx
import orjson

from tests.e2e.conftest import Server
from tests.factories import dataset, run_event, schema


def test_sigkill_under_load_loses_no_acknowledged_event(server: Server) -> None:
    token = server.token("producer")
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def produce() -> None:
        with httpx.Client(base_url=server.url, timeout=5,
                          headers={"Authorization": f"Bearer {token}"}) as c:
            while not stop.is_set():
                run_id = str(uuid.uuid4())
                event = run_event("COMPLETE", run_id=run_id,
                                  outputs=[dataset("file", f"/data/{run_id}.csv", s=schema("a"))])
                try:
                    r = c.post("/api/v1/lineage", content=orjson.dumps(event))
                except httpx.HTTPError:
                    return  # the server died mid-request: not acknowledged, may or may not exist
                if r.status_code == 201:
                    with lock:
                        acknowledged.append(run_id)

    threads = [threading.Thread(target=produce) for _ in range(16)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 300 and time.monotonic() < deadline:
        time.sleep(0.05)
    server.stop(signal.SIGKILL)
    stop.set()
    for t in threads:
        t.join(timeout=10)
    assert len(acknowledged) >= 300, "the server acknowledged too few events to prove anything"

    server.start()
    query = "query($id: ID!) { run(id: $id) { id state } }"
    with server.client("viewer") as c:
        missing = [rid for rid in acknowledged
                   if c.post("/graphql", json={"query": query, "variables": {"id": rid}}
                             ).json()["data"]["run"] is None]
    assert missing == [], f"{len(missing)} of {len(acknowledged)} acknowledged events were lost"
