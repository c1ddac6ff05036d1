"""Real servers for tests: Neo4j Community, OPA and PostgreSQL, on loopback.

Each ``ensure_*`` reuses a server named by its environment variable (HEADWATER_NEO4J_URI,
HEADWATER_OPA_URL, HEADWATER_TEST_POSTGRES_DSN), or installs (cached under the user cache dir)
and starts one. A server that cannot start raises with the reason and its log's tail: tests that
need it fail loudly, they never skip.

    python tests/harness/services.py install            # fetch/build everything, cached
                                                        # (and the producers: producers.py)
    python tests/harness/services.py up --env-file F    # start all three, write KEY=VALUE to F
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

NEO4J_VERSION = "5.26.0"
OPA_VERSION = "v1.22.2"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "headwater"


@dataclass
class Service:
    name: str
    url: str
    env: dict[str, str]
    stop: Callable[[], None] = field(default=lambda: None)


def log(message: str) -> None:
    print(f"[harness] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(what: str, ready: Callable[[], bool], proc: subprocess.Popen[bytes], log_file: Path,
          timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            if ready():
                return
        except OSError:
            pass
        time.sleep(0.25)
    tail = log_file.read_text(errors="replace")[-4000:] if log_file.exists() else "(no log)"
    _terminate(proc)
    raise RuntimeError(f"{what} did not become ready in {timeout:.0f} s "
                       f"(exit code {proc.poll()}). Last log lines:\n{tail}")


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _stopper(proc: subprocess.Popen[bytes], tmp: Path | None) -> Callable[[], None]:
    done = False

    def stop() -> None:
        nonlocal done
        if done:
            return
        done = True
        _terminate(proc)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)

    atexit.register(stop)
    return stop


# ---------------------------------------------------------------- Neo4j

NEO4J_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>headwater.harness</groupId><artifactId>neo4j-server</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.neo4j</groupId><artifactId>neo4j</artifactId>
      <version>{version}</version></dependency>
  </dependencies>
</project>
"""


def neo4j_jars() -> Path:
    """Neo4j Community's jars from Maven Central (the `neo4j` artifact holds the server entry
    point, Bolt and Cypher), copied once into the cache."""
    lib = CACHE / "neo4j" / NEO4J_VERSION / "lib"
    if (lib / ".complete").exists():
        return lib
    if not shutil.which("mvn"):
        raise RuntimeError("Maven (mvn) is needed to fetch Neo4j's jars: apt-get install maven")
    work = lib.parent
    work.mkdir(parents=True, exist_ok=True)
    (work / "pom.xml").write_text(NEO4J_POM.format(version=NEO4J_VERSION))
    log(f"fetching Neo4j {NEO4J_VERSION} jars from Maven Central (first run only)…")
    result = subprocess.run(
        ["mvn", "-q", "-B", "-f", str(work / "pom.xml"), "dependency:copy-dependencies",
         f"-DoutputDirectory={lib}"], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"mvn could not fetch Neo4j {NEO4J_VERSION}:\n"
                           f"{(result.stdout + result.stderr)[-4000:]}")
    (lib / ".complete").touch()
    return lib


def _bolt_ready(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        pass  # listening; now prove a query runs (the driver is optional here)
    try:
        import neo4j
    except ImportError:
        return True
    with neo4j.GraphDatabase.driver(f"bolt://127.0.0.1:{port}", auth=None) as d:
        d.verify_connectivity()
        with d.session() as session:
            session.run("RETURN 1").consume()
    return True


def ensure_neo4j() -> Service:
    uri = os.environ.get("HEADWATER_NEO4J_URI")
    if uri:
        env = {k: v for k, v in os.environ.items() if k.startswith("HEADWATER_NEO4J_")}
        return Service("neo4j", uri, env)
    lib = neo4j_jars()
    java = shutil.which("java")
    if not java:
        raise RuntimeError("Java 17+ is needed to run Neo4j: apt-get install openjdk-17-jre")
    home = Path(tempfile.mkdtemp(prefix="headwater-neo4j-"))
    conf = home / "conf"
    conf.mkdir()
    bolt, http = free_port(), free_port()
    (conf / "neo4j.conf").write_text("\n".join([
        "dbms.security.auth_enabled=false",
        f"server.bolt.listen_address=127.0.0.1:{bolt}",
        "server.bolt.advertised_address=127.0.0.1",
        f"server.http.listen_address=127.0.0.1:{http}",
        "server.https.enabled=false",
        f"server.directories.data={home / 'data'}",
        f"server.directories.logs={home / 'logs'}",
        f"server.directories.run={home / 'run'}",
        f"server.directories.import={home / 'import'}",
        "server.memory.pagecache.size=512m",
        "db.tx_log.rotation.retention_policy=1 files",
        "dbms.usage_report.enabled=false",
        "",
    ]))
    log_file = home / "neo4j.out"
    proc = subprocess.Popen(
        [java, "-Xms512m", "-Xmx1g", "-XX:+UseG1GC", "-cp", f"{lib}/*",
         "org.neo4j.server.CommunityEntryPoint", f"--home-dir={home}", f"--config-dir={conf}"],
        stdout=log_file.open("wb"), stderr=subprocess.STDOUT, cwd=home)
    log(f"starting Neo4j {NEO4J_VERSION} on bolt://127.0.0.1:{bolt}")
    _wait("Neo4j", lambda: _bolt_ready(bolt), proc, log_file, timeout=180)
    url = f"bolt://127.0.0.1:{bolt}"
    return Service("neo4j", url, {"HEADWATER_NEO4J_URI": url}, _stopper(proc, home))


# ---------------------------------------------------------------- OPA


def opa_binary() -> Path:
    """OPA built with `go install` from the Go module proxy, once, into the cache."""
    gobin = CACHE / "opa" / OPA_VERSION
    binary = gobin / "opa"
    if binary.exists():
        return binary
    go = shutil.which("go") or "/usr/local/go/bin/go"
    if not Path(go).exists():
        raise RuntimeError("Go is needed to build OPA: install it from your distribution")
    log(f"building OPA {OPA_VERSION} with go install (first run only, a few minutes)…")
    gobin.mkdir(parents=True, exist_ok=True)
    result = subprocess.run([go, "install", f"github.com/open-policy-agent/opa@{OPA_VERSION}"],
                            env={**os.environ, "GOBIN": str(gobin)}, capture_output=True,
                            text=True)
    if result.returncode != 0 or not binary.exists():
        raise RuntimeError(f"go install of OPA {OPA_VERSION} failed:\n{result.stderr[-4000:]}")
    return binary


def _http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=1) as r:
        return bool(r.status == 200)


def start_opa(*extra_args: str, port: int | None = None,
              env: dict[str, str] | None = None) -> Service:
    """Always a new OPA process (tests that kill and restart OPA use this); ``env`` adds to
    or overrides its environment (``GOGC=100``)."""
    binary = opa_binary()
    port = port or free_port()
    tmp = Path(tempfile.mkdtemp(prefix="headwater-opa-"))
    log_file = tmp / "opa.log"
    # As docs/operations.md advises for the gate: Go's collector less often (GOGC=400).
    proc = subprocess.Popen(
        [str(binary), "run", "--server", "--addr", f"127.0.0.1:{port}", "--log-level", "error",
         *extra_args], stdout=log_file.open("wb"), stderr=subprocess.STDOUT,
        env={"GOGC": "400", **os.environ, **(env or {})})
    url = f"http://127.0.0.1:{port}"
    _wait("OPA", lambda: _http_ok(url + "/health"), proc, log_file, timeout=60)
    return Service("opa", url, {"HEADWATER_OPA_URL": url}, _stopper(proc, tmp))


def ensure_opa(*extra_args: str) -> Service:
    url = os.environ.get("HEADWATER_OPA_URL")
    if url:
        return Service("opa", url, {"HEADWATER_OPA_URL": url})
    return start_opa(*extra_args)


# ---------------------------------------------------------------- PostgreSQL


def postgres_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if found:
        return found[-1].parent
    _apt_install("postgresql", "PostgreSQL")
    return sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))[-1].parent


def _apt_install(package: str, what: str) -> None:
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise RuntimeError(f"{what} is not installed: apt-get install {package}")
    log(f"installing {what} from Debian's packages (first run only)…")
    for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", package]):
        result = subprocess.run(cmd, capture_output=True, text=True,
                                env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{result.stderr[-4000:]}")


# ---------------------------------------------------------------- Chromium (browser tests)

CHROMIUM = Path("/usr/bin/chromium")


def chromium_bin() -> Path:
    """Debian's Chromium, which Playwright drives for the web UI's tests (Playwright's own
    browser download is not used: only registry packages are fetched)."""
    found = os.environ.get("HEADWATER_TEST_CHROMIUM")
    if found:
        return Path(found)
    if not CHROMIUM.exists():
        _apt_install("chromium", "Chromium")
    return CHROMIUM


def ensure_postgres() -> Service:
    dsn = os.environ.get("HEADWATER_TEST_POSTGRES_DSN")
    if dsn:
        return Service("postgres", dsn, {"HEADWATER_TEST_POSTGRES_DSN": dsn})
    bindir = postgres_bin()
    tmp = Path(tempfile.mkdtemp(prefix="headwater-pg-"))
    data = tmp / "data"
    as_user: list[str] = []
    if os.geteuid() == 0:  # postgres refuses to run as root
        shutil.chown(tmp, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    init = subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-U", "postgres",
                           "--auth=trust", "-E", "UTF8"], capture_output=True, text=True)
    if init.returncode != 0:
        raise RuntimeError(f"initdb failed:\n{init.stdout[-2000:]}{init.stderr[-2000:]}")
    port = free_port()
    log_file = tmp / "postgres.log"
    proc = subprocess.Popen(
        [*as_user, str(bindir / "postgres"), "-D", str(data), "-p", str(port),
         "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={tmp}",
         "-c", "fsync=off"], stdout=log_file.open("wb"), stderr=subprocess.STDOUT)

    def ready() -> bool:
        r = subprocess.run([str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)],
                           capture_output=True)
        return r.returncode == 0

    stop = _stopper(proc, tmp)
    _wait("PostgreSQL", ready, proc, log_file, timeout=60)
    created = subprocess.run([str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port),
                              "-U", "postgres", "headwater"], capture_output=True, text=True)
    if created.returncode != 0:
        stop()
        raise RuntimeError(f"createdb failed: {created.stderr}")
    dsn = f"postgresql://postgres@127.0.0.1:{port}/headwater"
    return Service("postgres", dsn, {"HEADWATER_TEST_POSTGRES_DSN": dsn}, stop)


# ---------------------------------------------------------------- CLI


def install() -> None:
    started = time.monotonic()
    neo4j_jars()
    opa_binary()
    postgres_bin()
    chromium_bin()
    log(f"Neo4j {NEO4J_VERSION}, OPA {OPA_VERSION}, PostgreSQL and Chromium are ready "
        f"({time.monotonic() - started:.1f} s)")
    # The real OpenLineage producers (dbt, Airflow), each in its own virtualenv.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from tests.harness import producers

    producers.install()


def up(env_file: Path) -> None:
    services = [ensure_neo4j(), ensure_opa(), ensure_postgres()]
    env_file.write_text("".join(f"{k}={v}\n" for s in services for k, v in s.env.items()))
    log(f"running; settings in {env_file}. Ctrl-C to stop.")
    stopped = False

    def stop(*_: object) -> None:
        nonlocal stopped
        stopped = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopped:
        time.sleep(0.5)
    for s in services:
        s.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("install")
    p = sub.add_parser("up")
    p.add_argument("--env-file", type=Path, default=Path(".services.env"))
    args = ap.parse_args()
    install() if args.cmd == "install" else up(args.env_file)


if __name__ == "__main__":
    main()
