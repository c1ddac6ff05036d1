"""Gate decisions from two checkouts side by side: one server each (on copies of one store,
each with an OPA of its own for ``--engine opa``), requests alternating A B B A, so that both
see the same machine. On a 2-core machine shared with other work, runs of ``bench.gate``
minutes apart differ more than most changes do; pairs of requests do not.

    .venv/bin/python -m bench.gate_ab --a ../base --b . [--engine opa] [--requests 1500]
        [--opa-env-a GOGC=100] [--opa-env-b GOGC=400]

Each checkout needs its own install (``make install`` there), so ``make bench`` does not run
this one. The store is the scenario of ``bench.gate`` alone (a job with 5 inputs and 5 outputs
of 20 fields), without the 100,000-dataset graph around it: the catalog reads cost a little
less than there. Writes bench/results/gate_ab.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.gate import GATE_BODY, scenario_events  # noqa: E402
from bench.stores import scratch_dir  # noqa: E402
from headwater.catalog import open_store  # noqa: E402
from headwater.ingestion.normalize import normalize  # noqa: E402
from headwater.policies.engine import BUNDLE  # noqa: E402
from tests.e2e.conftest import Server, free_port  # noqa: E402
from tests.harness.services import Service, start_opa  # noqa: E402


def start_server(checkout: Path, data_dir: Path, engine: str, opa: Service | None) -> Server:
    """The checkout's own server (its virtualenv's Python)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
    env.update({"HEADWATER_DATA_DIR": str(data_dir), "HEADWATER_POLICY_ENGINE": engine,
                **(opa.env if opa else {})})
    server = Server(url=f"http://127.0.0.1:{free_port()}", env=env, data_dir=data_dir,
                    python=str(checkout / ".venv" / "bin" / "python"))
    server.start()
    return server


def quantile(values: list[float], q: float) -> float:
    return sorted(values)[int(len(values) * q)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--a", type=Path, required=True, help="a checkout with its .venv")
    ap.add_argument("--b", type=Path, required=True, help="another checkout with its .venv")
    ap.add_argument("--engine", choices=["embedded", "opa"], default="embedded")
    ap.add_argument("--requests", type=int, default=1500, help="timed requests per side")
    ap.add_argument("--opa-env-a", action="append", default=[], metavar="NAME=VALUE",
                    help="environment of side A's OPA (GOGC=100, ...)")
    ap.add_argument("--opa-env-b", action="append", default=[], metavar="NAME=VALUE")
    args = ap.parse_args()

    base = scratch_dir("bench-gate-ab-")
    store = open_store("embedded", path=base / "headwater.db")
    store.write_events([normalize(e) for e in scenario_events()])
    store.close()
    sides: dict[str, tuple[Path, list[str]]] = {"A": (args.a, args.opa_env_a),
                                                "B": (args.b, args.opa_env_b)}
    opas: list[Service] = []
    servers: list[Server] = []
    clients: dict[str, httpx.Client] = {}
    try:
        for side, (checkout, opa_env) in sides.items():
            data_dir = scratch_dir(f"bench-gate-ab-{side}-")
            shutil.copytree(base, data_dir, dirs_exist_ok=True)
            opa = None
            if args.engine == "opa":
                opa = start_opa(str(BUNDLE), env=dict(kv.split("=", 1) for kv in opa_env))
                opas.append(opa)
            servers.append(start_server(checkout.resolve(), data_dir, args.engine, opa))
            clients[side] = servers[-1].client("producer")
        for c in clients.values():  # warm both up
            for _ in range(100):
                c.post("/api/v1/gate", json=GATE_BODY).raise_for_status()
        latency: dict[str, list[float]] = {"A": [], "B": []}
        for i in range(2 * args.requests):
            side = "AB"[(i + i // 2) % 2]  # A B B A A B B A ...
            started = time.perf_counter()
            clients[side].post("/api/v1/gate", json=GATE_BODY).raise_for_status()
            latency[side].append((time.perf_counter() - started) * 1000)
    finally:
        for c in clients.values():
            c.close()
        for server in servers:
            server.stop()
        for opa in opas:
            opa.stop()
    print(f"\n{args.engine}, {args.requests} requests a side, alternating\n")
    print("| side | checkout | p50 | p90 | p99 |")
    print("|---|---|---|---|---|")
    for side, (checkout, opa_env) in sides.items():
        v = latency[side]
        label = f"{checkout}" + (f" (OPA {' '.join(opa_env)})" if opa_env else "")
        print(f"| {side} | {label} | {quantile(v, .5):.2f} ms | {quantile(v, .9):.2f} ms | "
              f"{quantile(v, .99):.2f} ms |")
    out = Path(__file__).parent / "results" / "gate_ab.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"engine": args.engine, "requests": args.requests, "sides": {
        side: {"checkout": str(checkout), "opa_env": opa_env,
               **{f"p{round(q * 100)}_ms": quantile(latency[side], q) for q in (.5, .9, .99)}}
        for side, (checkout, opa_env) in sides.items()}}, indent=2))
    a, b = latency["A"], latency["B"]
    print(f"\nB / A: p50 x{quantile(b, .5) / quantile(a, .5):.2f}, "
          f"p99 x{quantile(b, .99) / quantile(a, .99):.2f}")


if __name__ == "__main__":
    main()
