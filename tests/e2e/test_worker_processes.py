"""The gate decides, heavy GraphQL queries run and events are stored in worker processes of
their own (headwater/gate_process.py, headwater/query_process.py, headwater/ingest_process.py):
a worker that dies costs the calls in flight a clear 503 and later calls are answered by a new
worker (an event sent meanwhile waits for it), with nothing acknowledged lost; a server
stopped while producers post answers every request it took; a server killed outright leaves
no worker behind; an invalid request still gets its 422; the server's metrics count what the
workers did; a query answers the same from a worker as from the server."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Server, free_port, server_env

PLAIN = {"job": {"namespace": "crm", "name": "load"}, "inputs": [], "outputs": []}
EVENT = {"eventType": "COMPLETE", "eventTime": "2026-03-01T00:00:00Z", "producer": "https://p",
         "schemaURL": "https://s", "run": {"runId": "00000000-0000-4000-8000-000000000001"},
         "job": {"namespace": "etl", "name": "load"},
         "inputs": [{"namespace": "pg", "name": "raw", "facets": {"schema": {"fields": [
             {"name": "email", "type": "text"}, {"name": "id", "type": "int"}]}}}],
         "outputs": [{"namespace": "pg", "name": "clean", "facets": {"schema": {"fields": [
             {"name": "email", "type": "text"}]}}}]}
# Data, a null and an error with its path (a producer may not read erasure requests).
QUERY = """{ datasets(first: 10) { totalCount edges { node { name fields { name type } } } }
  missing: dataset(namespace: "pg", name: "nothing") { name }
  erasureRequest(id: "nope") { id } }"""


@pytest.fixture(params=["embedded"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def start(backend: str, data_dir: Path, request: pytest.FixtureRequest,
          **settings: str) -> Server:
    env = server_env(backend, data_dir, request)
    env.update({f"HEADWATER_{k.upper()}": v for k, v in settings.items()})
    srv = Server(url=f"http://127.0.0.1:{free_port()}", env=env, data_dir=data_dir)
    srv.start()
    return srv


@pytest.fixture
def server(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Server]:
    # Every query counts as heavy: each one runs in a worker.
    srv = start(backend, tmp_path, request, graphql_heavy_cost="1")
    try:
        yield srv
    finally:
        srv.stop()


def workers(server: Server) -> list[int]:
    assert server.proc is not None
    out = subprocess.run(["ps", "-ww", "-o", "pid=,args=", "--ppid", str(server.proc.pid)],
                         capture_output=True, text=True).stdout
    return [int(line.split()[0]) for line in out.splitlines() if "spawn_main" in line]


def cpu_ticks(pid: int) -> int:
    """The process's CPU time so far, in clock ticks (user + system)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True,
                          text=True).stdout.strip() not in ("", "Z")


def test_a_dead_worker_costs_one_clear_503_and_a_new_one_takes_over(server: Server) -> None:
    with server.client("producer") as c:
        assert c.post("/api/v1/gate", json=PLAIN).status_code == 200
        assert c.post("/graphql", json={"query": QUERY}).status_code == 200
        assert c.post("/api/v1/lineage", json=EVENT).status_code == 201
        pids = workers(server)
        # The gate's, one for heavy queries (started by the first) and ingestion's.
        assert len(pids) == 3
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        r = c.post("/api/v1/gate", json=PLAIN)
        assert r.status_code == 503, r.text
        assert "retry" in r.json()["detail"]
        r = c.post("/graphql", json={"query": QUERY})
        assert r.status_code == 503 and r.headers["Retry-After"], r.text
        assert "retry" in r.json()["errors"][0]["message"]
        deadline = time.monotonic() + 60
        while (r := c.post("/api/v1/gate", json=PLAIN)).status_code != 200:
            assert r.status_code == 503 and time.monotonic() < deadline, r.text
            time.sleep(0.2)
        assert r.json()["decision"] == "allow"
        while (r := c.post("/graphql", json={"query": QUERY})).status_code != 200:
            assert r.status_code == 503 and time.monotonic() < deadline, r.text
            time.sleep(0.2)
        assert "datasets" in r.json()["data"]
        # Sent once the ingestion process is gone, an event waits for the new one.
        r = c.post("/api/v1/lineage", json=EVENT)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "duplicate"  # stored before, by the process that died
        assert len(workers(server)) == 3 and not set(pids) & set(workers(server))
        bad = c.post("/api/v1/gate", json={"job": {"namespace": "crm"}})
        assert bad.status_code == 422, bad.text  # the worker's error, rebuilt in the server
        assert "/job/name" in bad.text
        metrics = c.get("/metrics").text  # decided in a worker, counted by the server
        assert 'headwater_gate_decisions_total{decision="allow"} 2.0' in metrics, metrics[-2000:]
        # Stored by two ingestion processes in turn, counted by the server.
        assert 'headwater_ingest_events_total{result="stored"} 1.0' in metrics
        assert 'headwater_ingest_events_total{result="duplicate"} 1.0' in metrics


def test_an_ingestion_process_that_dies_mid_batch_costs_the_batch_a_503_and_loses_nothing(
        server: Server) -> None:
    events = [{**EVENT, "run": {"runId": str(uuid.uuid4())}} for _ in range(10_000)]
    answers: list[httpx.Response] = []
    with server.client("producer") as c:
        pids = workers(server)  # the gate's and ingestion's
        before = {pid: cpu_ticks(pid) for pid in pids}
        posting = threading.Thread(target=lambda: answers.append(
            c.post("/api/v1/lineage/batch", json=events)))
        posting.start()
        # Once one of them has worked 50 ms on the batch (~1 s of work in all), both go.
        while all(cpu_ticks(pid) - before[pid] < 5 for pid in pids):
            assert posting.is_alive(), answers
            time.sleep(0.01)
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        posting.join(60)
        (r,) = answers
        assert r.status_code == 503, r.text[:300]
        assert "not acknowledged" in r.json()["detail"] and "retry" in r.json()["detail"]
        again = c.post("/api/v1/lineage/batch", json=events)  # a new process answers
    assert again.status_code == 200, again.text[:300]
    done = again.json()
    assert (done["created"] + done["duplicate"], done["invalid"]) == (10_000, 0), done


def test_a_query_answers_the_same_from_a_worker(backend: str, tmp_path: Path,
                                                request: pytest.FixtureRequest) -> None:
    answers = []
    for processes in ("2", "0"):
        (tmp_path / processes).mkdir()
        srv = start(backend, tmp_path / processes, request, graphql_heavy_cost="1",
                    query_processes=processes)
        try:
            with srv.client("producer") as c:
                assert c.post("/api/v1/lineage", json=EVENT).status_code == 201
                r = c.post("/graphql", json={"query": QUERY})
                assert r.status_code == 200, r.text
                answers.append(r.json())
        finally:
            srv.stop()
    in_worker, on_thread = answers
    assert in_worker["data"]["datasets"]["totalCount"] == 2
    assert in_worker["data"]["erasureRequest"] is None
    assert in_worker["errors"][0]["path"] == ["erasureRequest"]
    assert in_worker == on_thread


def test_a_server_killed_outright_leaves_no_worker(server: Server) -> None:
    with server.client("producer") as c:
        assert c.post("/api/v1/gate", json=PLAIN).status_code == 200
        assert c.post("/graphql", json={"query": QUERY}).status_code == 200
    pids = workers(server)
    assert len(pids) == 3
    server.stop(signal.SIGKILL)
    deadline = time.monotonic() + 10
    while any(alive(p) for p in pids):
        assert time.monotonic() < deadline, "a worker outlived its server by 10 s"
        time.sleep(0.2)


def test_a_server_stopped_while_producers_post_keeps_every_event_it_acknowledged(
        server: Server) -> None:
    """SIGTERM with 8 producers posting: every request the server took is answered 201, and
    every 201 is in the store after a restart (posted again, each comes back as a
    duplicate): the ingestion process answers only what it committed."""
    acked: list[dict[str, object]] = []
    stop = threading.Event()

    def produce() -> None:
        with server.client("producer") as c:
            while not stop.is_set():
                event = {**EVENT, "run": {"runId": str(uuid.uuid4())}}
                try:
                    r = c.post("/api/v1/lineage", json=event)
                except httpx.HTTPError:
                    return  # the server is gone: nothing was acknowledged
                assert r.status_code == 201, r.text  # taken, so answered, shutting down or not
                acked.append(event)

    server.token("producer")  # made once, before the producers start
    producers = [threading.Thread(target=produce) for _ in range(8)]
    for t in producers:
        t.start()
    deadline = time.monotonic() + 30
    while len(acked) < 200:
        assert time.monotonic() < deadline, len(acked)
        time.sleep(0.05)
    server.stop()  # SIGTERM, while the producers post
    stop.set()
    for t in producers:
        t.join(30)
    server.start()
    with server.client("producer") as c:
        again = [c.post("/api/v1/lineage", json=e).json()["status"] for e in acked]
    assert again == ["duplicate"] * len(acked)
