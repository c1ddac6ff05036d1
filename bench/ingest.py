"""Ingestion throughput: single-event POSTs (32 concurrent clients, driven by wrk) and the batch
endpoint, on both backends. Prints a table and writes bench/results/ingest.json.

    .venv/bin/python -m bench.ingest [--backends embedded,neo4j] [--events 60000] [--seconds 10]
        [--warmup SECONDS]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.stores import scratch_dir  # noqa: E402
from bench.workload import Warehouse  # noqa: E402
from tests.e2e.conftest import Server, free_port  # noqa: E402

WRK_SCRIPT = """
local bodies, i, step = {}, 0, 1
function init(args)
  for line in io.lines(args[1]) do bodies[#bodies + 1] = line end
  i = tonumber(args[2]); step = tonumber(args[3])
end
function request()
  i = i + step
  if i > #bodies then i = ((i - 1) % #bodies) + 1 end
  return wrk.format("POST", "/api/v1/lineage", {["Content-Type"]="application/json",
    ["Authorization"]="Bearer " .. os.getenv("HW_TOKEN")}, bodies[i])
end
"""


# Seconds of untimed single POSTs before the timed ones: Neo4j's JVM runs this workload's
# first ~20,000 events several times slower than later; the embedded store's rate is its own
# from the start, and a longer warm-up would use up the workload's unique events.
WARMUP = {"embedded": 5, "neo4j": 30}


def start(backend: str, tmp: Path) -> Server:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
    env.update({"HEADWATER_DATA_DIR": str(tmp), "HEADWATER_STORE": backend})
    if backend == "neo4j":
        from tests.conftest import _wipe_neo4j
        from tests.harness.services import ensure_neo4j

        neo = ensure_neo4j()
        env.update(neo.env)
        _wipe_neo4j(neo.env)
    server = Server(url=f"http://127.0.0.1:{free_port()}", env=env, data_dir=tmp)
    server.start()
    return server


def single(server: Server, bodies: list[bytes], seconds: int) -> dict[str, float]:
    """wrk, 32 connections, each request the next of the unique events (past the last, it
    starts again with what are then duplicates: reported, as they cost less)."""
    tmp = scratch_dir()
    (tmp / "events.ndjson").write_bytes(b"\n".join(bodies))
    # One wrk thread (-t1), so one Lua state walks the events: none is sent twice.
    script = tmp / "post.lua"
    script.write_text(WRK_SCRIPT)
    env = {**os.environ, "HW_TOKEN": server.token("producer")}
    cmd = ["wrk", "-t1", "-c32", f"-d{seconds}s", "--latency", "-s", str(script), server.url,
           "--", str(tmp / "events.ndjson"), "0", "1"]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    sent = int(re.search(r"(\d+) requests in", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(\w+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    unit = {"us": 1e-3, "ms": 1.0, "s": 1e3}[p99.group(2)] if p99 else 0
    return {"events_per_s": rps, "p99_ms": float(p99.group(1)) * unit if p99 else 0.0,
            "errors": int(non2xx.group(1)) if non2xx else 0, "sent": sent,
            "duplicates": max(0, sent - len(bodies))}


def batch(server: Server, bodies: list[bytes], size: int, clients: int) -> dict[str, float]:
    chunks = [b"[" + b",".join(bodies[i:i + size]) + b"]" for i in range(0, len(bodies), size)]
    token = server.token("producer")

    def send(body: bytes) -> int:
        with httpx.Client(base_url=server.url, timeout=120,
                          headers={"Authorization": f"Bearer {token}"}) as c:
            r = c.post("/api/v1/lineage/batch", content=body)
            r.raise_for_status()
            return int(r.json()["created"])

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        created = sum(pool.map(send, chunks))
    elapsed = time.perf_counter() - started
    return {"events_per_s": len(bodies) / elapsed, "created": created, "batch_size": size}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backends", default="embedded,neo4j")
    ap.add_argument("--events", type=int, default=60_000)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--warmup", type=int, help="seconds of untimed single POSTs "
                    "(default: 30 on Neo4j, 5 on the embedded store)")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed for the single-event benchmark: apt-get install -y wrk")
    wh = Warehouse()
    bodies = [orjson.dumps(e) for e in wh.events(args.events)]
    avg = sum(map(len, bodies)) / len(bodies)
    print(f"workload: {len(bodies)} events, {avg:.0f} bytes on average, "
          f"{len(wh.tables)} datasets, {len(wh.jobs)} jobs", file=sys.stderr)
    results = []
    for backend in args.backends.split(","):
        tmp = scratch_dir(f"bench-{backend}-")
        server = start(backend, tmp)
        try:
            # Every job's first run first, untimed: the timed phases measure the steady state
            # of a warehouse whose jobs run again (and a warm JVM on Neo4j), not its first day.
            warm = 2 * len(wh.jobs)
            batch(server, bodies[:warm], 500, 4)
            # Then single POSTs, untimed too, so that what is timed is a warm server.
            seconds = args.warmup if args.warmup is not None else WARMUP[backend]
            if seconds:
                warm += single(server, bodies[warm:], seconds)["sent"]
            half = warm + (len(bodies) - warm) // 2
            s = single(server, bodies[warm:half], args.seconds)
            b = batch(server, bodies[half:], 500, 4)
        finally:
            server.stop()
        results.append({"backend": backend, "single": s, "batch": b})
        print(f"{backend:9s} single: {s['events_per_s']:8.0f} events/s (p99 {s['p99_ms']:.1f} ms,"
              f" {s['errors']} errors, {s['duplicates']} duplicates)"
              f"   batch(500): {b['events_per_s']:8.0f} events/s")
    out = Path(__file__).parent / "results" / "ingest.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"events": len(bodies), "results": results}, indent=2))
    print("\n| backend | single POST, 32 clients (events/s) | p99 (ms) | batch of 500 (events/s) |")
    print("|---|---|---|---|")
    for r in results:
        print(f"| {r['backend']} | {r['single']['events_per_s']:.0f} | "
              f"{r['single']['p99_ms']:.1f} | {r['batch']['events_per_s']:.0f} |")


if __name__ == "__main__":
    main()
