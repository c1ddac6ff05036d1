"""What keeping the search index in step costs ingestion: interleaved A/B runs of the same
ingestion with the index kept (A) and without it (B), each in a fresh process on a fresh store,
compared by the process's CPU time (user + system, the operating system's accounting of the
finished child) and wall time, pair by pair (pairing keeps the ratio meaningful while the
machine's speed drifts).

Each run decodes, validates and normalises the events and writes them in batches, as the batch
endpoint does (without the HTTP part, which the index does not touch: the ratio is the
ingestion CPU the index adds, an upper bound for the server's). Workloads:

- ``warehouse`` (the ingestion benchmark's events, ``bench/workload.py``): 2,000 datasets and
  500 jobs, each job run many times; every node is indexed once, later runs repeat it.
- ``synthetic`` (``bench/synthetic.py``): every event brings new nodes, so every write indexes
  (the worst case: seven documents per dataset).

    .venv/bin/python -m bench.index_cost [--workload warehouse] [--events 20000] [--pairs 5]
        [--backend embedded|neo4j]

"Without the index" swaps the store's index upkeep for nothing in the child process only:
there is no setting that turns search off.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _events(workload: str, n: int) -> list[dict[str, Any]]:
    if workload == "warehouse":
        from bench.workload import Warehouse

        return list(Warehouse().events(n))
    from bench import synthetic

    return list(synthetic.events(datasets=2 * n + 5000, jobs=n))


def _without_index(backend: str) -> None:
    """B: the write path with the index upkeep (digests included) replaced by nothing."""
    if backend == "embedded":
        from headwater.catalog.embedded import writes
    else:
        from headwater.catalog.neo4j import writes  # type: ignore[no-redef]
    writes.reindex_touched = lambda *_: {}  # type: ignore[assignment]
    writes.contributions = lambda *_: {}  # type: ignore[assignment]
    if backend == "embedded":
        writes.IndexedDigests = _Nothing  # type: ignore[assignment,misc]


class _Nothing:
    """``IndexedDigests`` that remembers nothing and reads nothing."""

    def known(self, *_: object) -> dict[str, str]:
        return {}

    def state(self, *_: object) -> tuple[int, int]:
        return 0, 0

    def forget(self) -> None:
        pass

    def written(self, *_: object) -> None:
        pass


def _open(backend: str, data: Path) -> Any:
    from headwater.catalog import open_store

    if backend == "embedded":
        return open_store("embedded", path=data / "bench.db")
    from tests.conftest import _wipe_neo4j
    from tests.harness.services import ensure_neo4j

    neo = ensure_neo4j()
    _wipe_neo4j(neo.env)
    return open_store("neo4j", uri=neo.env["HEADWATER_NEO4J_URI"],
                      user=neo.env.get("HEADWATER_NEO4J_USER"),
                      password=neo.env.get("HEADWATER_NEO4J_PASSWORD"))


def child(events_file: Path, backend: str, index: bool, batch: int) -> None:
    """One run: ingest every event of ``events_file`` (one JSON document a line)."""
    from headwater.ingestion.normalize import normalize

    if not index:
        _without_index(backend)
    data = Path(tempfile.mkdtemp())
    store = _open(backend, data)
    lines = events_file.read_bytes().splitlines()
    for i in range(0, len(lines), batch):
        store.write_events([normalize(orjson.loads(b)) for b in lines[i : i + batch]])
    store.close()
    shutil.rmtree(data, ignore_errors=True)


def _run(cmd: list[str]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one child run."""
    started = time.monotonic()
    proc = subprocess.Popen(cmd)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"child failed ({proc.returncode}): {' '.join(cmd)}")
    return usage.ru_utime + usage.ru_stime, wall


def _spread(values: list[float]) -> str:
    return f"×{statistics.median(values):.3f} (×{min(values):.3f} – ×{max(values):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workload", choices=("warehouse", "synthetic"), default="warehouse")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--backend", choices=("embedded", "neo4j"), default="embedded")
    parser.add_argument("--child", choices=("on", "off"),
                        help="one run only, with the index (on) or without (off): what the"
                        " A/B starts, and what to run under an instruction counter")
    parser.add_argument("--events-file", type=Path,
                        help="with --child: the events, one JSON document a line")
    args = parser.parse_args()
    if args.child:
        child(args.events_file, args.backend, args.child == "on", args.batch)
        return
    tmp = Path(tempfile.mkdtemp())
    events_file = tmp / "events.ndjson"
    events_file.write_bytes(b"\n".join(orjson.dumps(e) for e in _events(args.workload,
                                                                        args.events)))
    base = [sys.executable, "-m", "bench.index_cost", "--backend", args.backend,
            "--batch", str(args.batch), "--events-file", str(events_file), "--child"]
    cpu: list[float] = []
    wall: list[float] = []
    try:
        _run(base + ["on"])  # warm-up: page cache, bytecode
        for i in range(args.pairs):
            # Alternate which goes first, so neither always runs on the warmer machine.
            order = ("on", "off") if i % 2 == 0 else ("off", "on")
            got = {side: _run(base + [side]) for side in order}
            cpu.append(got["on"][0] / got["off"][0])
            wall.append(got["on"][1] / got["off"][1])
            print(f"pair {i + 1}: CPU {got['on'][0]:.2f} s with the index, {got['off'][0]:.2f} s"
                  f" without (×{cpu[-1]:.3f}); wall {got['on'][1]:.2f} / {got['off'][1]:.2f} s",
                  flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    load = os.getloadavg()
    print(f"{args.backend} {args.workload} {args.events:,} events, batches of {args.batch}:"
          f" CPU {_spread(cpu)}, wall {_spread(wall)} over {len(cpu)} pairs"
          f" (load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f})")


if __name__ == "__main__":
    main()
