"""A bounded soak, loopback only: a real server (subprocess, embedded store) under a mix of
ingestion (single POSTs, batches, and the real openlineage-python client), heavy GraphQL reads
(deep lineage, impact analysis, big lists near the cost limit), light reads (a dataset by
name), gate calls, and one erasure request end to end.

    .venv/bin/python -m bench.soak [--seconds 300]

Prints p50/p95/p99 per class, the server's RSS (with its worker processes') at start, after
warm-up and at the end, and the events acknowledged against those stored (counted back from
the store after the server stops); writes bench/results/soak.json. ``tests/soak/test_soak.py``
runs it for a minute and asserts the thresholds of ``check``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import multiprocessing
import os
import random
import sqlite3
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.stores import scratch_dir
from bench.workload import Warehouse
from tests.e2e.conftest import Server, free_port, server_env

# The targets; a machine known to be shared can relax them explicitly (and say so).
GATE_P99_MS = float(os.environ.get("HEADWATER_SOAK_GATE_P99_MS", "50"))
SMALL_READ_P99_MS = float(os.environ.get("HEADWATER_SOAK_SMALL_READ_P99_MS", "200"))
# "Flat" after warm-up: the end figure may exceed the warm one by 10 % and 24 MB (allocator
# arenas and the collector's generations settle), plus twice what the store grew meanwhile:
# each SQLite connection caches up to 64 MB of pages (catalog/embedded/connection.py), so new
# data lands in the writer's cache and in the readers' as they read it. Anything beyond is a
# leak: the one this soak found kept ~12 MB per heavy query (100 MB every few seconds).
RSS_GROWTH_SHARE = 0.10
RSS_GROWTH_MB = 24.0
RSS_PER_STORE_MB = 2.0
EXPECTED_HEAVY = {200, 429, 503}  # the heavy-query bulkhead refuses with 429/503 + Retry-After

SUBJECT = "soak.subject@example.com"
SQLITE_TABLE = "customers"


def children(pid: int) -> list[int]:
    """The server's worker processes (the gate's, heavy queries'), whichever thread started
    them."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            found += map(int, (task / "children").read_text().split())
    return found


def rss_mb(pid: int) -> float:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0  # gone meanwhile


@dataclass
class Figures:
    seconds: float
    latency_ms: dict[str, list[float]] = field(default_factory=dict)
    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # 5xx, GraphQL errors, exceptions
    retry_after_missing: int = 0
    heavy_timeouts: int = 0  # heavy reads stopped at their deadline (a GraphQL TIMEOUT error)
    rss_mb: list[tuple[float, float]] = field(default_factory=list)  # (t, MB)
    db_mb: list[tuple[float, float]] = field(default_factory=list)  # (t, MB): store + WAL
    warmup_s: float = 0.0
    acked_ids: set[str] = field(default_factory=set)
    acked_client: int = 0  # events the openlineage-python client sent without an error
    setup_events: int = 0
    stored: int = 0
    stored_of_acked: int = 0
    erasure: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, kind: str, ms: float, status: int) -> None:
        with self.lock:
            self.latency_ms.setdefault(kind, []).append(ms)
            self.statuses.setdefault(kind, Counter())[status] += 1

    def problem(self, text: str) -> None:
        with self.lock:
            if len(self.problems) < 50:
                self.problems.append(text[:500])

    def percentiles(self) -> dict[str, dict[str, float]]:
        out = {}
        for kind, xs in sorted(self.latency_ms.items()):
            q = statistics.quantiles(xs, n=100) if len(xs) > 1 else xs * 99
            out[kind] = {"n": len(xs), "p50": q[49], "p95": q[94], "p99": q[98]}
        return out

    def rss(self) -> dict[str, float]:
        start = self.rss_mb[0][1]
        warm = max(mb for t, mb in self.rss_mb if t <= self.warmup_s)
        end = max(mb for t, mb in self.rss_mb[-5:])
        db_warm = max((mb for t, mb in self.db_mb if t <= self.warmup_s), default=0.0)
        return {"start": start, "warm": warm, "end": end,
                "max_after_warmup": max(mb for t, mb in self.rss_mb if t > self.warmup_s),
                "store_growth_after_warmup": self.db_mb[-1][1] - db_warm if self.db_mb else 0.0}

    def rss_allowed(self) -> float:
        r = self.rss()
        return (r["warm"] * (1 + RSS_GROWTH_SHARE) + RSS_GROWTH_MB
                + RSS_PER_STORE_MB * max(0.0, r["store_growth_after_warmup"]))

    def part(self) -> dict[str, Any]:
        """What a client process measured, to send to the parent."""
        return {"latency_ms": self.latency_ms, "statuses": self.statuses,
                "problems": self.problems, "retry_after_missing": self.retry_after_missing,
                "acked_ids": self.acked_ids, "acked_client": self.acked_client,
                "heavy_timeouts": self.heavy_timeouts,
                "erasure": self.erasure}

    def merge(self, part: dict[str, Any]) -> None:
        for kind, xs in part["latency_ms"].items():
            self.latency_ms.setdefault(kind, []).extend(xs)
        for kind, counts in part["statuses"].items():
            self.statuses.setdefault(kind, Counter()).update(counts)
        self.problems.extend(part["problems"])
        self.retry_after_missing += part["retry_after_missing"]
        self.acked_ids |= part["acked_ids"]
        self.acked_client += part["acked_client"]
        self.heavy_timeouts += part["heavy_timeouts"]
        self.erasure.update(part["erasure"])

    def summary(self) -> dict[str, Any]:
        return {"seconds": self.seconds, "latency_ms": self.percentiles(),
                "statuses": {k: dict(v) for k, v in self.statuses.items()},
                "rss_mb": self.rss(), "events": {
                    "acked_rest": len(self.acked_ids), "acked_openlineage_client": self.acked_client,
                    "setup": self.setup_events, "stored": self.stored,
                    "acked_rest_found_in_store": self.stored_of_acked},
                "erasure": self.erasure, "problems": self.problems[:10],
                "heavy_stopped_at_deadline": self.heavy_timeouts,
                "retry_after_missing": self.retry_after_missing}


def check(f: Figures) -> list[str]:
    """The thresholds the soak must hold; what failed, in words."""
    failed = []
    p = f.percentiles()
    if p["gate"]["p99"] > GATE_P99_MS:
        failed.append(f"gate p99 {p['gate']['p99']:.1f} ms > {GATE_P99_MS} ms")
    if p["small_read"]["p99"] > SMALL_READ_P99_MS:
        failed.append(f"small reads p99 {p['small_read']['p99']:.1f} ms > {SMALL_READ_P99_MS} ms")
    for kind, counts in f.statuses.items():
        bad = {s: n for s, n in counts.items() if s >= 500 and not (kind == "heavy" and s == 503)}
        if bad:
            failed.append(f"{kind}: server errors {bad}")
    if f.problems:
        failed.append(f"{len(f.problems)} problems, first: {f.problems[0]}")
    if f.retry_after_missing:
        failed.append(f"{f.retry_after_missing} refused heavy reads without Retry-After")
    r, allowed = f.rss(), f.rss_allowed()
    if r["end"] > allowed:
        failed.append(f"RSS grew after warm-up: {r['warm']:.0f} -> {r['end']:.0f} MB "
                      f"(allowed {allowed:.0f})")
    if f.stored_of_acked != len(f.acked_ids):
        failed.append(f"{len(f.acked_ids) - f.stored_of_acked} acknowledged events not stored")
    if f.stored < f.setup_events + len(f.acked_ids) + f.acked_client:
        failed.append(f"stored {f.stored} < setup {f.setup_events} + acked "
                      f"{len(f.acked_ids)} + client {f.acked_client}")
    if (f.erasure.get("status") != "COMPLETED" or f.erasure.get("rows_left") != 0
            or f.erasure.get("audit") != "verified"):
        failed.append(f"the erasure did not complete: {f.erasure}")
    if p.get("heavy", {}).get("n", 0) < 3:
        failed.append("fewer than 3 heavy reads ran")
    return failed


# ---------------------------------------------------------------- the world


NS = "postgres://soak-db:5432"


class World:
    """The catalog the soak reads: a warehouse with column lineage, a hub table that many jobs
    read (deep and wide lineage, big impact reports), and a SQLite table holding a subject."""

    def __init__(self, root: Path, seconds: float) -> None:
        self.root = root
        self.warehouse = Warehouse(datasets=400, jobs=300, seed=3)
        self.sqlite_path = root / "crm.db"
        self.sqlite_ns = f"sqlite://{self.sqlite_path}"
        n = int(seconds * 40) + 200
        self.singles = [orjson.dumps(e) for e in Warehouse(400, 300, seed=5).events(n)]
        self.batches = [orjson.dumps(list(Warehouse(400, 300, seed=6 + i).events(100)))
                        for i in range(int(seconds / 2) + 5)]

    def setup_events(self) -> list[dict[str, Any]]:
        events = list(self.warehouse.events(1200))
        hub = {"namespace": NS, "name": "hub.orders", "facets": {"schema": {"fields": [
            {"name": f"c{i}", "type": "varchar"} for i in range(30)]}}}
        for j in range(200):  # 200 jobs reading every hub column: a wide, deep impact
            out = {"namespace": NS, "name": f"mart.orders_{j}", "facets": {
                "schema": {"fields": [{"name": f"c{i}", "type": "varchar"} for i in range(30)]},
                "columnLineage": {"fields": {f"c{i}": {"inputFields": [
                    {"namespace": NS, "name": "hub.orders" if j < 20 else f"mart.orders_{j // 10}",
                     "field": f"c{i}"}]} for i in range(30)}}}}
            events.append(event("soak", f"mart_{j}", [hub], [out], j))
        tags = {"tags": {"tags": [{"key": "classification", "value": "pii.email",
                                   "field": "email"}]}}
        events.append(event("crm", "load", [], [{
            "namespace": self.sqlite_ns, "name": SQLITE_TABLE, "facets": {
                "schema": {"fields": [{"name": "email", "type": "text"},
                                      {"name": "segment", "type": "text"}]}, **tags}}], 0))
        return events

    def create_sqlite(self) -> None:
        with sqlite3.connect(self.sqlite_path) as db:
            db.execute(f"CREATE TABLE {SQLITE_TABLE} (email TEXT, segment TEXT)")
            db.executemany(f"INSERT INTO {SQLITE_TABLE} VALUES (?, ?)",
                           [(SUBJECT, "gold"), ("other@example.com", "silver")])

    def rows_of_subject(self) -> int:
        with sqlite3.connect(self.sqlite_path) as db:
            (n,) = db.execute(f"SELECT count(*) FROM {SQLITE_TABLE} WHERE email = ?",
                              (SUBJECT,)).fetchone()
        return int(n)


def event(ns: str, name: str, inputs: list[dict[str, Any]], outputs: list[dict[str, Any]],
          i: int) -> dict[str, Any]:
    return {"eventType": "COMPLETE", "eventTime": f"2026-03-01T00:{i // 60 % 60:02d}:{i % 60:02d}Z",
            "producer": "https://bench/soak", "schemaURL": "https://openlineage.io/spec/2-0-2",
            "run": {"runId": str(uuid.uuid4())}, "job": {"namespace": ns, "name": name},
            "inputs": inputs, "outputs": outputs}


HEAVY = [
    ("""{ lineage(nodeId: "dataset:%s:hub.orders", direction: BOTH, depth: 20) {
           nodes { id name depth } edges { source target } truncated } }""" % NS, {}),
    ("""query($ns: String!) { impactAnalysis(change: {namespace: $ns, name: "hub.orders",
           dropFields: ["c0", "c1", "c2", "c3", "c4", "c5"]}) { breaking findings
           affectedFields(first: 5000) { namespace name field depth }
           affectedDatasets(first: 2000) { namespace name } affectedJobs(first: 2000) { name } } }""",
     {"ns": NS}),
    ("""{ datasets(first: 500) { totalCount edges { node { id name tags
           fields(first: 60) { name type } consumers(first: 50) { name } } } } }""", {}),
]
SMALL = """query($ns: String!, $name: String!) { dataset(namespace: $ns, name: $name) {
             id name fields(first: 20) { name type } } }"""
GATE = {"job": {"namespace": "crm", "name": "load"},
        "inputs": [{"namespace": NS, "name": "hub.orders"}],
        "outputs": [{"namespace": NS, "name": "mart.orders_1"}], "context": {"purpose": "billing"}}


# ---------------------------------------------------------------- the load


def paced(stop: threading.Event, per_second: float, fn: Callable[[int], None]) -> None:
    """Call ``fn(i)`` ``per_second`` times a second (open loop: a slow answer does not slow the
    schedule, so latency is measured as a client arriving on time sees it)."""
    interval, i, next_at = 1.0 / per_second, 0, time.monotonic()
    while not stop.is_set():
        fn(i)
        i += 1
        next_at += interval
        delay = next_at - time.monotonic()
        if delay > 0:
            stop.wait(delay)
        else:
            next_at = time.monotonic()  # behind: do not burst to catch up


def timed(f: Figures, kind: str, call: Callable[[], httpx.Response]) -> httpx.Response | None:
    started = time.perf_counter()
    try:
        r = call()
    except httpx.HTTPError as exc:
        f.problem(f"{kind}: {type(exc).__name__}: {exc}")
        return None
    f.record(kind, (time.perf_counter() - started) * 1000, r.status_code)
    if r.status_code >= 500 and not (kind == "heavy" and r.status_code == 503):
        f.problem(f"{kind}: {r.status_code} {r.text[:300]}")
    return r


def run(seconds: float, root: Path, *, warmup: float | None = None, heavy_clients: int = 3,
        settings: dict[str, str] | None = None) -> Figures:
    f = Figures(seconds=seconds, warmup_s=warmup if warmup is not None else seconds / 3)
    world = World(root, seconds)
    world.create_sqlite()
    (root / "connectors.toml").write_text(f'[[connector]]\nnamespace = "{world.sqlite_ns}"\n')
    env = server_env("embedded", root / "data", None)  # type: ignore[arg-type]
    # For A/B runs: e.g. {"gate_processes": "0"} decides on the server's threads.
    env.update({f"HEADWATER_{k.upper()}": v for k, v in (settings or {}).items()})
    env.update({"HEADWATER_CONNECTORS_FILE": str(root / "connectors.toml"),
                "HEADWATER_ERASURE_POLL_SECONDS": "0.5"})
    (root / "data").mkdir(exist_ok=True)
    srv = Server(url=f"http://127.0.0.1:{free_port()}", env=env, data_dir=root / "data")
    srv.start()
    try:
        tokens = {r: srv.token(r) for r in ("producer", "viewer", "steward")}
        setup = world.setup_events()
        with srv.client("producer") as c:
            for i in range(0, len(setup), 250):
                r = c.post("/api/v1/lineage/batch", content=orjson.dumps(setup[i:i + 250]))
                assert r.status_code == 200 and r.json()["invalid"] == 0, r.text[:500]
        f.setup_events = len(setup)
        drive(srv, world, tokens, f, heavy_clients)
    finally:
        srv.stop()
    with sqlite3.connect(f"file:{root / 'data' / 'headwater.db'}?mode=ro", uri=True) as db:
        f.stored = db.execute("SELECT count(*) FROM events").fetchone()[0]
        ids = sorted(f.acked_ids)
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            f.stored_of_acked += db.execute(
                f"SELECT count(*) FROM events WHERE id IN ({','.join('?' * len(chunk))})",
                chunk).fetchone()[0]
    return f


def drive(srv: Server, world: World, tokens: dict[str, str], f: Figures, heavy_clients: int
          ) -> None:
    from openlineage.client import OpenLineageClient
    from openlineage.client.event_v2 import Job, OutputDataset, Run, RunEvent, RunState
    from openlineage.client.transport.http import ApiKeyTokenProvider, HttpConfig, HttpTransport

    def client(role: str, timeout: float = 30) -> httpx.Client:
        return httpx.Client(base_url=srv.url, timeout=timeout,
                            headers={"Authorization": f"Bearer {tokens[role]}"})

    stop = multiprocessing.get_context("fork").Event()
    started = time.monotonic()
    pid = srv.proc.pid  # type: ignore[union-attr]

    def sample_rss() -> None:
        while not stop.is_set():
            now = time.monotonic() - started
            f.rss_mb.append((now, sum(map(rss_mb, [pid, *children(pid)]))))
            f.db_mb.append((now, sum(p.stat().st_size for p in srv.data_dir.glob("headwater.db*"))
                            / 2**20))
            stop.wait(1.0)

    def singles() -> None:
        with client("producer") as c:
            def one(i: int) -> None:
                r = timed(f, "ingest_single", lambda: c.post(
                    "/api/v1/lineage", content=world.singles[i % len(world.singles)]))
                if r is not None and r.status_code in (200, 201):
                    with f.lock:
                        f.acked_ids.add(r.json()["eventId"])
            paced(stop, 25, one)

    def batches() -> None:
        with client("producer") as c:
            def one(i: int) -> None:
                r = timed(f, "ingest_batch", lambda: c.post(
                    "/api/v1/lineage/batch", content=world.batches[i % len(world.batches)]))
                if r is not None and r.status_code == 200:
                    with f.lock:
                        f.acked_ids.update(x["eventId"] for x in r.json()["results"]
                                           if x["status"] in ("created", "duplicate"))
            paced(stop, 0.5, one)

    def openlineage_client() -> None:
        ol = OpenLineageClient(transport=HttpTransport(HttpConfig(
            url=srv.url, timeout=30, auth=ApiKeyTokenProvider({"apiKey": tokens["producer"]}))))

        def one(i: int) -> None:
            ev = RunEvent(eventType=RunState.COMPLETE, eventTime=f"2026-04-01T00:00:{i % 60:02d}Z",
                          run=Run(runId=str(uuid.uuid4())),
                          job=Job(namespace="soak.client", name=f"job_{i % 50}"),
                          producer="https://bench/soak/openlineage-python",
                          outputs=[OutputDataset(namespace=NS, name=f"client.table_{i % 50}")])
            t = time.perf_counter()
            try:
                ol.emit(ev)
            except Exception as exc:  # the client raises on any non-2xx answer
                f.problem(f"openlineage-python: {type(exc).__name__}: {exc}")
                return
            f.record("ingest_client", (time.perf_counter() - t) * 1000, 201)
            with f.lock:
                f.acked_client += 1
        paced(stop, 5, one)

    def heavy(k: int) -> None:
        with client("viewer", timeout=60) as c:
            i = k
            while not stop.is_set():
                query, variables = HEAVY[i % len(HEAVY)]
                i += 1
                body = {"query": query, "variables": variables}
                r = timed(f, "heavy", lambda b=body: c.post("/graphql", json=b))  # type: ignore[misc]
                if r is None:
                    continue
                if r.status_code in (429, 503):
                    if "retry-after" not in r.headers:
                        with f.lock:
                            f.retry_after_missing += 1
                    stop.wait(float(r.headers.get("retry-after", "1")))
                elif r.status_code != 200 or (errors := r.json().get("errors")):
                    if r.status_code == 200 and all(
                            e.get("extensions", {}).get("code") == "TIMEOUT" for e in errors):
                        f.heavy_timeouts += 1  # bounded by the deadline, as designed
                    else:
                        f.problem(f"heavy: {r.status_code} {r.text[:300]}")

    def small() -> None:
        known = sorted({(d["namespace"], d["name"]) for e in world.setup_events()
                        for d in e["outputs"]})
        nss, names = [k[0] for k in known], [k[1] for k in known]
        with client("viewer") as c:
            def one(i: int) -> None:
                k = random.randrange(len(names))
                r = timed(f, "small_read", lambda: c.post("/graphql", json={
                    "query": SMALL, "variables": {"ns": nss[k], "name": names[k]}}))
                if r is not None and (r.status_code != 200 or r.json().get("errors")
                                      or r.json()["data"]["dataset"] is None):
                    f.problem(f"small read: {r.status_code} {r.text[:300]}")
            paced(stop, 20, one)

    def gate() -> None:
        with client("producer") as c:
            def one(i: int) -> None:
                r = timed(f, "gate", lambda: c.post("/api/v1/gate", json=GATE))
                if r is not None and r.status_code != 200:
                    f.problem(f"gate: {r.status_code} {r.text[:300]}")
            paced(stop, 20, one)

    def erasure() -> None:
        stop.wait(f.warmup_s)  # filed under full load, after the warm-up
        with client("steward") as c:
            t = time.perf_counter()
            r = c.post("/api/v1/erasure-requests", json={
                "identifiers": [{"kind": "email", "value": SUBJECT}], "reason": "soak"})
            if r.status_code != 202:
                f.problem(f"erasure filing: {r.status_code} {r.text[:300]}")
                return
            rid = r.json()["id"]
            while True:
                req = c.get(f"/api/v1/erasure-requests/{rid}").json()
                if req["status"] in ("COMPLETED", "PARTIAL", "FAILED") or stop.is_set():
                    break
                time.sleep(0.5)
            audit = c.get(f"/api/v1/erasure-requests/{rid}/audit").json()
            f.erasure = {"status": req["status"], "seconds": round(time.perf_counter() - t, 2),
                         "tasks": [(x["dataset"]["name"], x["status"]) for x in req["tasks"]],
                         "rows_left": world.rows_of_subject(), "audit": audit["integrity"]}

    # Each class of client is its own process: in one process the clients' own GIL (parsing
    # megabyte answers of the heavy readers) would delay the timers of the light ones.
    ctx = multiprocessing.get_context("fork")
    results: Any = ctx.Queue()

    def child(target: Callable[[], None]) -> Callable[[], None]:
        def main() -> None:
            target()
            results.put(f.part())
        return main

    workers = [singles, batches, openlineage_client, small, gate, erasure,
               *(functools.partial(heavy, k) for k in range(heavy_clients))]
    procs = [ctx.Process(target=child(w)) for w in workers]  # type: ignore[attr-defined]
    sampler = threading.Thread(target=sample_rss)
    sampler.start()
    for p in procs:
        p.start()
    time.sleep(f.seconds)
    stop.set()
    for _ in procs:
        f.merge(results.get(timeout=180))
    for p in procs:
        p.join(30)
    sampler.join(5)


# ---------------------------------------------------------------- report


def table(f: Figures) -> str:
    lines = ["| class | n | p50 ms | p95 ms | p99 ms | statuses |", "|---|---|---|---|---|---|"]
    for kind, q in f.percentiles().items():
        lines.append(f"| {kind} | {q['n']} | {q['p50']:.1f} | {q['p95']:.1f} | {q['p99']:.1f} |"
                     f" {dict(sorted(f.statuses[kind].items()))} |")
    r = f.rss()
    lines += ["", f"RSS MB: start {r['start']:.0f}, after warm-up ({f.warmup_s:.0f} s) "
              f"{r['warm']:.0f}, end {r['end']:.0f} (max after warm-up {r['max_after_warmup']:.0f};"
              f" allowed {f.rss_allowed():.0f}: the store grew {r['store_growth_after_warmup']:.0f}"
              " MB after warm-up)",
              f"events: acknowledged over REST {len(f.acked_ids)} (found in the store: "
              f"{f.stored_of_acked}), by openlineage-python {f.acked_client}, setup "
              f"{f.setup_events}; stored {f.stored}",
              f"heavy reads stopped at their deadline: {f.heavy_timeouts}",
              f"erasure: {f.erasure}"]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=300)
    ap.add_argument("--warmup", type=float, default=60)
    ap.add_argument("--heavy-clients", type=int, default=3)
    ap.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE",
                    help="a server setting, for A/B runs (gate_processes=0: the gate on "
                    "threads; ingest_process=false: ingestion in the server process)")
    args = ap.parse_args()
    root = scratch_dir("bench-soak-")
    f = run(args.seconds, root, warmup=args.warmup, heavy_clients=args.heavy_clients,
            settings=dict(kv.split("=", 1) for kv in args.setting))
    print(table(f))
    failed = check(f)
    print("\n".join(["", "FAILED:", *failed]) if failed else "\nall thresholds held")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "soak.json").write_text(json.dumps({**f.summary(), "failed": failed}, indent=2))


if __name__ == "__main__":
    main()
