"""Real OpenLineage producers for tests: dbt (`dbt-ol`, dbt-duckdb) and Apache Airflow (its
OpenLineage provider), each in its own virtualenv so that their pins never meet Headwater's.

A producer's environment is the fully pinned `tests/producers/<name>/requirements.txt`,
installed once under the user cache dir in a folder named by the file's hash: changing a pin
builds a new environment, an unchanged one is reused (a few hundred MB each).

    python tests/harness/producers.py install          # both, cached
    python tests/harness/producers.py record           # re-record tests/data/producers/
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PRODUCERS = ROOT / "tests" / "producers"
RECORDINGS = ROOT / "tests" / "data" / "producers"
NAMES = ("dbt", "airflow")
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "headwater"


def log(message: str) -> None:
    print(f"[harness] {message}", file=sys.stderr, flush=True)


def requirements(name: str) -> Path:
    return PRODUCERS / name / "requirements.txt"


def venv(name: str) -> Path:
    """The producer's virtualenv, built on first use (pip's cache makes a rebuild quick)."""
    pins = requirements(name).read_bytes()
    home = CACHE / "producers" / f"{name}-{hashlib.sha1(pins).hexdigest()[:12]}"
    if (home / ".complete").exists():
        return home
    shutil.rmtree(home, ignore_errors=True)  # a half-built one from an interrupted install
    home.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    log(f"installing the {name} producer into {home} (first run only, about a minute)…")
    subprocess.run([sys.executable, "-m", "venv", str(home)], check=True)
    result = subprocess.run(
        [str(home / "bin" / "python"), "-m", "pip", "install", "-q", "-r",
         str(requirements(name))], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"pip could not install the {name} producer:\n"
                           f"{(result.stdout + result.stderr)[-4000:]}")
    (home / ".complete").touch()
    log(f"{name} producer installed ({time.monotonic() - started:.0f} s)")
    return home


def producer_env(name: str, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """An environment that runs the producer's own commands (dbt-ol, airflow) first on PATH,
    without Headwater's virtualenv or settings leaking in."""
    env = {k: v for k, v in (base or os.environ).items()
           if k not in ("VIRTUAL_ENV", "PYTHONPATH") and not k.startswith(("HEADWATER_",
                                                                            "OPENLINEAGE_",
                                                                            "AIRFLOW"))}
    env["PATH"] = f"{venv(name) / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def run(cmd: str, *, env: Mapping[str, str], cwd: Path, timeout: float = 300
        ) -> subprocess.CompletedProcess[str]:
    """A recipe's bash, as a user would paste it (-e: the first failing line stops it)."""
    return subprocess.run(["bash", "-eo", "pipefail", "-c", cmd], env=dict(env), cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


# ---------------------------------------------------------------- the runs


def dbt_project(into: Path) -> Path:
    """A fresh copy of the shop project (dbt writes target/ and the DuckDB file next to it)."""
    dest = into / "shop"
    shutil.copytree(PRODUCERS / "dbt", dest, ignore=shutil.ignore_patterns(
        "target", "logs", "*.duckdb", "requirements.txt"))
    return dest



def airflow_home(into: Path) -> tuple[Path, dict[str, str]]:
    """An Airflow home with the shop_export DAG and a migrated SQLite metadata database."""
    home = into / "airflow"
    shutil.copytree(PRODUCERS / "airflow" / "dags", home / "dags")
    settings = {"AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False"}
    return home, settings



# ---------------------------------------------------------------- recording


@contextmanager
def recorder(into: Path) -> Iterator[str]:
    """A loopback endpoint that keeps every event body it is sent, as NDJSON, in arrival order
    (and answers 201 as Headwater would)."""
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            with lock, into.open("ab") as out:
                out.write(body.strip().replace(b"\n", b" ") + b"\n")
            self.send_response(201)
            self.end_headers()

        def log_message(self, *_: object) -> None:
            """Quiet: a recording must not print a line per event."""

    into.write_bytes(b"")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def record() -> None:
    """Run both producers against a recorder and keep what they sent in tests/data/producers."""
    from tests.producers.recipes import airflow_script, dbt_script

    for name in NAMES:
        (RECORDINGS / name).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="headwater-record-") as tmp:
        work = Path(tmp)
        out = RECORDINGS / "dbt" / "events.ndjson"
        with recorder(out) as url:
            result = run(dbt_script(url, "recording"), env=producer_env("dbt"),
                         cwd=dbt_project(work))
        _check("dbt", result, out, ok=(0, 1))  # 1: the failing dbt test, on purpose
        out = RECORDINGS / "airflow" / "events.ndjson"
        home, settings = airflow_home(work)
        with recorder(out) as url:
            result = run(airflow_script(url, "recording"),
                         env={**producer_env("airflow"), **settings}, cwd=home)
        _check("airflow", result, out)


def _check(name: str, result: subprocess.CompletedProcess[str], out: Path,
           ok: tuple[int, ...] = (0,)) -> None:
    if result.returncode not in ok:
        raise RuntimeError(f"the {name} run failed:\n{result.stdout[-3000:]}"
                           f"{result.stderr[-3000:]}")
    count = len(out.read_text().splitlines())
    log(f"{name}: {count} events recorded in {out.relative_to(ROOT)}")


def install() -> None:
    started = time.monotonic()
    for name in NAMES:
        venv(name)
    log(f"producers ready ({time.monotonic() - started:.1f} s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("cmd", choices=["install", "record"])
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    install() if args.cmd == "install" else record()


if __name__ == "__main__":
    main()
