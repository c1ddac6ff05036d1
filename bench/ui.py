"""The web UI on the 100,000-dataset synthetic graph: the dataset page's server time (its
``Server-Timing`` header) over many datasets, and the lineage explorer at 600 nodes in
headless Chromium (Debian's, driven by Playwright): time until drawn, and until a zoom shows.

    .venv/bin/python -m bench.ui [--samples 200] [--loads 10]

Prints a table and writes bench/results/ui.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.stores import scratch_dir  # noqa: E402
from bench.synthetic import NS, load, name  # noqa: E402
from headwater.catalog import open_store  # noqa: E402
from tests.browser import catalog  # noqa: E402
from tests.e2e.conftest import Server, free_port  # noqa: E402
from tests.harness.services import chromium_bin  # noqa: E402

ZOOM = """() => new Promise((done) => {
    const canvas = document.getElementById('canvas');
    const port = canvas.querySelector('.viewport');
    const before = port.getAttribute('transform');
    const start = performance.now();
    canvas.dispatchEvent(new WheelEvent('wheel', {deltaY: -300, clientX: 400, clientY: 300,
                                                  bubbles: true, cancelable: true}));
    const check = () => port.getAttribute('transform') !== before
        ? done(performance.now() - start) : requestAnimationFrame(check);
    requestAnimationFrame(check);
})"""
TIMING = """() => { const nav = performance.getEntriesByType('navigation')[0];
  return {server: nav.serverTiming.find((t) => t.name === 'app').duration,
          drawn: performance.getEntriesByName('lineage-ready')[0].startTime}; }"""


def pct(samples: list[float]) -> dict[str, float]:
    qs = statistics.quantiles(samples, n=100)
    return {"p50_ms": round(qs[49], 1), "p95_ms": round(qs[94], 1), "max_ms": round(max(samples), 1)}


def dataset_pages(server: Server, samples: int, datasets: int) -> dict[str, Any]:
    rng = random.Random(7)
    picks = [name(i) for i in rng.sample(range(5000, datasets), samples)]  # all written
    picks[:5] = [name(i) for i in range(5)]  # the hubs: most consumers
    times = []
    with httpx.Client(base_url=server.url, timeout=60) as c:
        assert c.post("/ui/login", data={"token": server.token("viewer")}).status_code == 303
        for i, n in enumerate([picks[0], *picks]):  # the first is a warm-up
            r = c.get(f"/ui/dataset?ns={quote(NS)}&name={quote(n)}")
            r.raise_for_status()
            if i:
                times.append(float(r.headers["server-timing"].split("dur=")[1]))
    return {"samples": len(times), **pct(times)}


def explorer(server: Server, loads: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    hub = quote(f"dataset:{catalog.HUB[0]}:{catalog.HUB[1]}")
    drawn, zoom, server_ms = [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium_bin()), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        page.goto(server.url + "/ui/login")
        page.fill("#token", server.token("viewer"))
        page.click("button[type=submit]")
        page.wait_for_url(server.url + "/")
        for i in range(loads + 1):
            page.goto(f"{server.url}/ui/lineage?node={hub}&depth=2&direction=DOWNSTREAM")
            page.wait_for_selector("#canvas[data-ready=true]")
            nodes = page.locator(".node").count()
            t = page.evaluate(TIMING)
            z = page.evaluate(ZOOM)
            if i:  # the first warms the browser's caches
                drawn.append(t["drawn"])
                server_ms.append(t["server"])
                zoom.append(z)
        browser.close()
    return {"nodes": nodes, "loads": loads, "drawn": pct(drawn), "server": pct(server_ms),
            "zoom": pct(zoom)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--loads", type=int, default=10)
    parser.add_argument("--datasets", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=50_000)
    parser.add_argument("--data-dir", type=Path, help="keep the generated graph here, and reuse "
                        "it when it is already there (generating takes ~5-8 minutes)")
    args = parser.parse_args()
    tmp = args.data_dir or scratch_dir("bench-ui-")
    if not (tmp / "headwater.db").exists():
        tmp.mkdir(parents=True, exist_ok=True)
        store = open_store("embedded", path=tmp / "headwater.db")
        print(f"generating {args.datasets:,} datasets / {args.jobs:,} jobs", file=sys.stderr)
        load(store, args.datasets, args.jobs)
        store.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
    env.update({"HEADWATER_DATA_DIR": str(tmp), "HEADWATER_STORE": "embedded"})
    server = Server(url=f"http://127.0.0.1:{free_port()}", env=env, data_dir=tmp)
    server.start()
    try:
        catalog.load(server.url, server.token("producer"), server.token("steward"))
        result = {"dataset_page": dataset_pages(server, args.samples, args.datasets),
                  "explorer_600": explorer(server, args.loads)}
    finally:
        server.stop()
    d, e = result["dataset_page"], result["explorer_600"]
    print(f"\n| what | target | p50 | p95 |\n|---|---|---|---|\n"
          f"| dataset page, server time ({d['samples']} datasets) | p95 ≤ 100 ms | "
          f"{d['p50_ms']} ms | {d['p95_ms']} ms |\n"
          f"| lineage explorer, {e['nodes']} nodes: drawn | ≤ 1 s | {e['drawn']['p50_ms']} ms | "
          f"{e['drawn']['p95_ms']} ms |\n"
          f"| … its server time | | {e['server']['p50_ms']} ms | {e['server']['p95_ms']} ms |\n"
          f"| … a zoom shown | | {e['zoom']['p50_ms']} ms | {e['zoom']['p95_ms']} ms |")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "ui.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
