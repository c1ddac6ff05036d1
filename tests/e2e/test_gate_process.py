"""The gate decides in a worker process of its own (headwater/gate_process.py): a worker that
dies costs the call in flight a clear 503 and the next call is answered by a new worker; a
server killed outright leaves no worker behind; an invalid request still gets its 422; the
server's metrics count what the worker decided."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from tests.e2e.conftest import Server

PLAIN = {"job": {"namespace": "crm", "name": "load"}, "inputs": [], "outputs": []}


@pytest.fixture(params=["embedded"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def workers(server: Server) -> list[int]:
    assert server.proc is not None
    out = subprocess.run(["ps", "-ww", "-o", "pid=,args=", "--ppid", str(server.proc.pid)],
                         capture_output=True, text=True).stdout
    return [int(line.split()[0]) for line in out.splitlines() if "spawn_main" in line]


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
        (worker,) = workers(server)
        os.kill(worker, signal.SIGKILL)
        r = c.post("/api/v1/gate", json=PLAIN)
        assert r.status_code == 503, r.text
        assert "retry" in r.json()["detail"]
        deadline = time.monotonic() + 60
        while (r := c.post("/api/v1/gate", json=PLAIN)).status_code != 200:
            assert r.status_code == 503 and time.monotonic() < deadline, r.text
            time.sleep(0.2)
        assert r.json()["decision"] == "allow"
        assert workers(server) and worker not in workers(server)
        bad = c.post("/api/v1/gate", json={"job": {"namespace": "crm"}})
        assert bad.status_code == 422, bad.text  # the worker's error, rebuilt in the server
        assert "/job/name" in bad.text
        metrics = c.get("/metrics").text  # decided in a worker, counted by the server
        assert 'headwater_gate_decisions_total{decision="allow"} 2.0' in metrics, metrics[-2000:]


def test_a_server_killed_outright_leaves_no_gate_worker(server: Server) -> None:
    with server.client("producer") as c:
        assert c.post("/api/v1/gate", json=PLAIN).status_code == 200
    pids = workers(server)
    assert pids
    server.stop(signal.SIGKILL)
    deadline = time.monotonic() + 10
    while any(alive(p) for p in pids):
        assert time.monotonic() < deadline, "a gate worker outlived its server by 10 s"
        time.sleep(0.2)
