"""GDPR erasure end to end: datasets in a real PostgreSQL, SQLite and CSV files, described to
Headwater by OpenLineage events with column lineage; a request filed over HTTP; the worker
erases, verifies and records; then a SIGKILL mid-request."""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
import pytest

from headwater.policies.erasure.subject import SubjectVault, load_secret
from tests.e2e.conftest import Server, free_port, server_env
from tests.factories import dataset, run_event, schema

SUBJECT = "alice@example.com"


def tags(*pairs: tuple[str, str | None], fields: dict[str, str] | None = None) -> dict[str, Any]:
    """Dataset tags (key, value) and field classifications {field: classification}."""
    out = [{"key": k, "value": v} if v else {"key": k} for k, v in pairs]
    out += [{"key": "classification", "value": c, "field": f} for f, c in (fields or {}).items()]
    return {"tags": {"tags": out}}


def derived(mapping: dict[str, tuple[str, str, str]], masking: bool = False) -> dict[str, Any]:
    return {"columnLineage": {"fields": {out: {"inputFields": [{
        "namespace": ns, "name": n, "field": f, "transformations": [{
            "type": "DIRECT", "subtype": "AGGREGATION" if masking else "IDENTITY",
            "masking": masking}]}]} for out, (ns, n, f) in mapping.items()}}}


class World:
    """The subject's data spread over PostgreSQL, SQLite and CSV, and the events saying so."""

    def __init__(self, dsn: str, root: Path) -> None:
        self.dsn, self.root = dsn, root
        self.schema = f"shop_{uuid.uuid4().hex[:8]}"
        info = psycopg.conninfo.conninfo_to_dict(dsn)
        self.pg_ns = f"postgres://{info.get('host', '127.0.0.1')}:{info.get('port', 5432)}"
        self.db = str(info.get("dbname"))
        self.sqlite_path = root / "app.db"
        self.sqlite_ns = f"sqlite://{self.sqlite_path}"
        self.exports = root / "exports"
        self.csv_path = self.exports / "contacts.csv"

    def pg(self, table: str) -> str:
        return f"{self.db}.{self.schema}.{table}"

    def create(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as c:
            s = self.schema
            c.execute(f"CREATE SCHEMA {s}")
            c.execute(f"CREATE TABLE {s}.customers (customer_id int, email text, name text)")
            c.execute(f"INSERT INTO {s}.customers VALUES (42, '{SUBJECT}', 'Alice'),"
                      " (7, 'bob@example.com', 'Bob'), (42, 'old-alice@example.com', 'Alice')")
            c.execute(f"CREATE TABLE {s}.orders (order_id int, email text, total numeric)")
            c.execute(f"INSERT INTO {s}.orders VALUES (1, %(a)s, 10), (2, %(a)s, 20),"
                      " (3, 'bob@example.com', 5), (4, %(a)s, 7)", {"a": SUBJECT})
            c.execute(f"CREATE TABLE {s}.invoices (invoice_id int, email text, amount numeric)")
            c.execute(f"INSERT INTO {s}.invoices VALUES (1, '{SUBJECT}', 99.5)")
            c.execute(f"CREATE TABLE {s}.daily_signups (day date, signups int)")
            c.execute(f"INSERT INTO {s}.daily_signups VALUES ('2026-11-01', 2)")
        with sqlite3.connect(self.sqlite_path) as db:
            db.execute("CREATE TABLE customer_profiles (customer_id INTEGER, email TEXT, segment TEXT)")
            db.executemany("INSERT INTO customer_profiles VALUES (?,?,?)",
                           [(42, SUBJECT, "gold"), (7, "bob@example.com", "silver")])
        self.exports.mkdir()
        with self.csv_path.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerows([["email", "segment"], [SUBJECT, "gold"], ["bob@example.com", "silver"]])

    def events(self) -> list[dict[str, Any]]:
        pg, sq = self.pg_ns, self.sqlite_ns
        customers = dataset(pg, self.pg("customers"), s=schema("customer_id", "email", "name"),
                            t=tags(fields={"email": "pii.email", "customer_id": "pii.customer_id"}),
                            o={"ownership": {"owners": [{"name": "team:crm"}]}})
        return [
            run_event("COMPLETE", job=("shop", "load"), outputs=[customers]),
            run_event("COMPLETE", job=("shop", "invoicing"), outputs=[dataset(
                pg, self.pg("invoices"), s=schema("invoice_id", "email", "amount"),
                t=tags(("finance", None), fields={"email": "pii.email"}))]),
            run_event("COMPLETE", job=("shop", "orders"), inputs=[customers], outputs=[dataset(
                pg, self.pg("orders"), s=schema("order_id", "email", "total"),
                c=derived({"email": (pg, self.pg("customers"), "email")}))]),
            run_event("COMPLETE", job=("crm", "profiles"), inputs=[customers], outputs=[dataset(
                sq, "customer_profiles", s=schema("customer_id", "email", "segment"),
                c=derived({"email": (pg, self.pg("customers"), "email"),
                           "customer_id": (pg, self.pg("customers"), "customer_id")}),
                o={"ownership": {"owners": [{"name": "team:marketing"}]}})]),
            run_event("COMPLETE", job=("crm", "export"),
                      inputs=[dataset(sq, "customer_profiles")], outputs=[dataset(
                          "file", str(self.csv_path), s=schema("email", "segment"),
                          c=derived({"email": (sq, "customer_profiles", "email")}))]),
            run_event("COMPLETE", job=("bi", "signups"), inputs=[customers], outputs=[dataset(
                pg, self.pg("daily_signups"), s=schema("day", "signups"),
                c=derived({"signups": (pg, self.pg("customers"), "customer_id")}, masking=True))]),
        ]

    def connectors_file(self) -> Path:
        path = self.root / "connectors.toml"
        path.write_text(f'[[connector]]\nnamespace = "{self.pg_ns}"\ndsn = "{self.dsn}"\n'
                        f'[[connector]]\nnamespace = "{self.sqlite_ns}"\n'
                        f'[[connector]]\nnamespace = "file"\nroots = ["{self.exports}"]\n')
        return path

    def pg_rows(self, table: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.dsn) as c:
            return c.execute(f"SELECT * FROM {self.schema}.{table} ORDER BY 1, 2").fetchall()

    def sqlite_rows(self) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.sqlite_path) as db:
            return db.execute("SELECT * FROM customer_profiles ORDER BY 1").fetchall()

    def csv_rows(self) -> list[list[str]]:
        with self.csv_path.open(newline="") as fh:
            return list(csv.reader(fh))


def start(backend: str, tmp_path: Path, request: pytest.FixtureRequest, world: World,
          **extra: str) -> Server:
    env = server_env(backend, tmp_path, request)
    env.update({"HEADWATER_CONNECTORS_FILE": str(world.connectors_file()),
                "HEADWATER_ERASURE_POLL_SECONDS": "0.2", **extra})
    srv = Server(url=f"http://127.0.0.1:{free_port()}", env=env, data_dir=tmp_path)
    srv.start()
    with srv.client("producer") as c:
        r = c.post("/api/v1/lineage/batch", content=orjson.dumps(world.events()))
        assert r.status_code == 200, r.text
    return srv


def wait_for(srv: Server, request_id: str, done: Any, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    with srv.client("steward") as c:
        while True:
            req = c.get(f"/api/v1/erasure-requests/{request_id}").json()
            if done(req):
                return dict(req)
            assert time.monotonic() < deadline, f"timed out; request: {json.dumps(req)[:3000]}"
            time.sleep(0.2)


def file_request(srv: Server) -> dict[str, Any]:
    with srv.client("steward") as c:
        r = c.post("/api/v1/erasure-requests", json={
            "identifiers": [{"kind": "email", "value": SUBJECT},
                            {"kind": "customer_id", "value": "42"}],
            "jurisdiction": "GDPR", "reason": "Art. 17 request by e-mail, ticket 881"})
    assert r.status_code == 202, r.text
    return dict(r.json())


def audit_of(srv: Server, c: httpx.Client, request_id: str) -> list[dict[str, Any]]:
    """The request's audit entries, after checking that the server verified its chain, and
    checking it here too, with the server's key."""
    body = c.get(f"/api/v1/erasure-requests/{request_id}/audit").json()
    assert (body["verified"], body["integrity"], body["reason"]) == (True, "verified", None), body
    entries: list[dict[str, Any]] = body["entries"]
    key = SubjectVault(load_secret(srv.env.get("HEADWATER_SECRET_KEY"), srv.data_dir)).audit_key
    prev = ""
    for n, e in enumerate(entries, start=1):
        unhashed = {k: v for k, v in e.items() if k != "hash"}
        assert (e["seq"], e["prev"], e["alg"]) == (n, prev, "hmac-sha256")
        assert e["hash"] == hmac.new(key, orjson.dumps(unhashed, option=orjson.OPT_SORT_KEYS),
                                     hashlib.sha256).hexdigest()
        prev = e["hash"]
    assert (body["length"], body["head"]) == (len(entries), prev)
    return entries


def short(name: str) -> str:
    """contacts.csv for a file path, customers for db.schema.customers."""
    return name.rsplit("/", 1)[-1] if "/" in name else name.rsplit(".", 1)[-1]


def by_name(req: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {short(t["dataset"]["name"]): t for t in req["tasks"]}


def test_subject_erased_everywhere_exempt_and_review_recorded(
        backend: str, tmp_path: Path, request: pytest.FixtureRequest, postgres_dsn: str) -> None:
    world = World(postgres_dsn, tmp_path)
    world.create()
    srv = start(backend, tmp_path, request, world)
    try:
        filed = file_request(srv)
        assert filed["status"] == "RECEIVED"
        assert SUBJECT not in json.dumps(filed), "the clear identifier must not come back"
        req = wait_for(srv, filed["id"], lambda r: r["status"] not in ("RECEIVED", "PLANNED",
                                                                        "RUNNING"))
        tasks = by_name(req)
        assert req["status"] == "PARTIAL", req  # the aggregate waits for a steward
        assert {k: (t["action"], t["status"], t["rowsAffected"]) for k, t in tasks.items()} == {
            "customers": ("delete", "done", 2), "orders": ("delete", "done", 3),
            "customer_profiles": ("delete", "done", 1), "contacts.csv": ("delete", "done", 1),
            "invoices": ("keep", "exempt", None), "daily_signups": ("review", "review", None)}
        assert "financial records" in tasks["invoices"]["exemption"]
        assert "no identifier column" in tasks["daily_signups"]["reviewReason"]
        order = [short(t["dataset"]["name"]) for t in req["tasks"]]
        assert order.index("customers") < order.index("customer_profiles") < order.index(
            "contacts.csv"), "sources must be erased before what is derived from them"

        # The data: gone from raw and derived datasets, untouched in the exempt and the aggregate.
        assert world.pg_rows("customers") == [(7, "bob@example.com", "Bob")]
        assert world.pg_rows("orders") == [(3, "bob@example.com", Decimal(5))]
        assert world.sqlite_rows() == [(7, "bob@example.com", "silver")]
        assert world.csv_rows() == [["email", "segment"], ["bob@example.com", "silver"]]
        assert world.pg_rows("invoices") == [(1, SUBJECT, Decimal("99.5"))]
        assert world.pg_rows("daily_signups") == [(date(2026, 11, 1), 2)]

        # A steward closes the review with evidence; the request completes, identifiers dropped.
        with srv.client("steward") as c:
            r = c.post(f"/api/v1/erasure-requests/{req['id']}/tasks/"
                       f"{tasks['daily_signups']['id']}/close",
                       json={"note": "aggregate counts only; no row identifies the subject"})
            assert r.status_code == 200, r.text
            done = c.get(f"/api/v1/erasure-requests/{req['id']}").json()
            audit = audit_of(srv, c, req["id"])
        assert done["status"] == "COMPLETED" and done["identifiersDropped"]

        events = [e["event"] for e in audit]
        assert events[0] == "filed" and "planned" in events
        assert events.count("task_done") == 4 and events.count("verified") == 4
        exempt = next(e for e in audit if e["event"] == "exempt")
        assert "financial records" in exempt["basis"]
        assert any(e["event"] == "review_required" for e in audit)
        closed = next(e for e in audit if e["event"] == "review_closed")
        assert closed["note"].startswith("aggregate counts only")
        notified = {tuple(e["recipients"]) for e in audit if e["event"] == "owners_notified"}
        assert notified == {("team:crm",), ("team:marketing",)}
        assert events[-2:] == ["status", "identifiers_dropped"]
        # audit_of checked the trail's keyed hash chain: intact
        assert SUBJECT not in json.dumps(audit) and SUBJECT not in json.dumps(done)

        # The CLI shows the same trail.
        out = subprocess.run(
            [sys.executable, "-m", "headwater", "erase", "audit", req["id"], "--json",
             "--url", srv.url], env={**srv.env, "HEADWATER_TOKEN": srv.token("steward")},
            capture_output=True, text=True, check=True, timeout=60)
        shown = json.loads(out.stdout)
        assert [e["event"] for e in shown["entries"]] == events and shown["verified"]
    finally:
        srv.stop()


def test_worker_killed_mid_request_resumes_without_double_counting(
        backend: str, tmp_path: Path, request: pytest.FixtureRequest, postgres_dsn: str) -> None:
    world = World(postgres_dsn, tmp_path)
    world.create()
    srv = start(backend, tmp_path, request, world, HEADWATER_ERASURE_WORKER="false",
                HEADWATER_ERASURE_LEASE_SECONDS="2")
    worker_log = (tmp_path / "worker.log").open("ab")

    def worker() -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", "headwater", "erase", "worker"],
                                env=srv.env, stdout=worker_log, stderr=subprocess.STDOUT)

    # Hold a lock that lets the worker count the orders (SELECT) but blocks its DELETE: the
    # worker is then stuck inside the orders task, after earlier tasks finished.
    blocker = psycopg.connect(world.dsn)
    blocker.execute(f"LOCK TABLE {world.schema}.orders IN EXCLUSIVE MODE")
    proc = worker()
    try:
        filed = file_request(srv)

        def stuck_in_orders(r: dict[str, Any]) -> bool:
            t = by_name(r).get("orders")
            return t is not None and t["status"] == "running"
        before = wait_for(srv, filed["id"], stuck_in_orders)
        finished_before = {k for k, t in by_name(before).items() if t["status"] == "done"}
        assert "customers" in finished_before, "sources run first, so customers is already done"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        blocker.rollback()  # the killed worker's DELETE never committed
        assert len(world.pg_rows("orders")) == 4

        proc = worker()
        req = wait_for(srv, filed["id"], lambda r: r["status"] == "PARTIAL")
        tasks = by_name(req)
        assert (tasks["orders"]["status"], tasks["orders"]["rowsAffected"],
                tasks["orders"]["attempts"]) == ("done", 3, 1)
        assert tasks["customers"]["rowsAffected"] == 2
        assert world.pg_rows("orders") == [(3, "bob@example.com", Decimal(5))]
        with srv.client("steward") as c:
            audit = audit_of(srv, c, filed["id"])  # the keyed chain intact after the kill
        done_tasks = [e["task"] for e in audit if e["event"] == "task_done"]
        assert len(done_tasks) == len(set(done_tasks)) == 4, "no task may be done twice"
        assert any(e["event"] == "resumed" for e in audit)
        assert any(e["event"] == "attempt_resumed" and e["task"] == tasks["orders"]["id"]
                   for e in audit)
    finally:
        proc.kill()
        blocker.close()
        srv.stop()
        worker_log.close()


class Recipient(BaseHTTPRequestHandler):
    """A system Headwater cannot reach itself: it takes instructions and calls back."""

    received: list[tuple[dict[str, Any], dict[str, str]]] = []

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.received.append((body, dict(self.headers)))
        if len(self.received) == 1:  # the first instruction fails: Headwater must retry
            self.send_response(503)
            self.end_headers()
            return
        self.send_response(202)
        self.end_headers()

        def call_back() -> None:
            time.sleep(0.3)
            with httpx.Client() as c:
                wrong = c.post(body["callbackUrl"], json={"token": "forged", "status": "done"})
                assert wrong.status_code == 403
                c.post(body["callbackUrl"], json={"token": body["callbackToken"],
                                                  "status": "done", "rowsAffected": 2})
        threading.Thread(target=call_back, daemon=True).start()

    def log_message(self, *_: Any) -> None:
        pass


def test_webhook_recipient_gets_instruction_retried_and_calls_back(
        tmp_path: Path, request: pytest.FixtureRequest) -> None:
    recipient = ThreadingHTTPServer(("127.0.0.1", 0), Recipient)
    threading.Thread(target=recipient.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{recipient.server_address[1]}/erasure"
    copy = tmp_path / "copy.db"  # a local copy derived from the CRM: erased after it
    with sqlite3.connect(copy) as db:
        db.execute("CREATE TABLE contacts (email TEXT)")
        db.executemany("INSERT INTO contacts VALUES (?)", [(SUBJECT,), ("bob@example.com",)])
    connectors = tmp_path / "connectors.toml"
    connectors.write_text(f'[[connector]]\nnamespace = "https://crm.example.com"\n'
                          f'webhook = "{hook}"\n[[connector]]\nnamespace = "sqlite://{copy}"\n')
    env = server_env("embedded", tmp_path, request)
    env.update({"HEADWATER_CONNECTORS_FILE": str(connectors),
                "HEADWATER_ERASURE_POLL_SECONDS": "0.2", "HEADWATER_ERASURE_BACKOFF_SECONDS": "0.2"})
    srv = Server(url=f"http://127.0.0.1:{free_port()}", env=env, data_dir=tmp_path)
    srv.start()
    try:
        contacts = dataset("https://crm.example.com", "contacts", s=schema("email", "name"),
                           t=tags(fields={"email": "pii.email"}))
        derived_copy = dataset(f"sqlite://{copy}", "contacts", s=schema("email"),
                               c=derived({"email": ("https://crm.example.com", "contacts",
                                                    "email")}))
        with srv.client("producer") as c:
            assert c.post("/api/v1/lineage", json=run_event(
                "COMPLETE", job=("crm", "sync"), outputs=[contacts])).status_code == 201
            assert c.post("/api/v1/lineage", json=run_event(
                "COMPLETE", job=("crm", "copy"), inputs=[contacts],
                outputs=[derived_copy])).status_code == 201
        with srv.client("steward") as c:
            filed = c.post("/api/v1/erasure-requests", json={
                "identifiers": [{"kind": "email", "value": SUBJECT}]}).json()
        req = wait_for(srv, filed["id"], lambda r: r["status"] == "COMPLETED")
        task, local = req["tasks"]
        assert (task["connector"], task["status"], task["rowsAffected"], task["attempts"]) == (
            "webhook", "done", 2, 2)
        assert (local["connector"], local["status"], local["rowsAffected"]) == ("sqlite", "done", 1)
        with sqlite3.connect(copy) as db:
            assert db.execute("SELECT email FROM contacts").fetchall() == [("bob@example.com",)]
        (first, h1), (second, h2) = Recipient.received
        assert second["identifiers"] == {"email": [SUBJECT]} and second["action"] == "delete"
        assert h1["Idempotency-Key"] != h2["Idempotency-Key"]
        with srv.client("steward") as c:
            audit = audit_of(srv, c, filed["id"])
        events = [e["event"] for e in audit]
        assert events.count("instruction_sent") == 2 and "attempt_failed" in events
        callback = next(e for e in audit if e["event"] == "callback")
        assert callback["ok"] and callback["rowsAffected"] == 2
        copy_started = next(e for e in audit if e["event"] == "attempt_started"
                            and e["task"] == local["id"])
        assert copy_started["seq"] > callback["seq"], "derived data waits for its source"
    finally:
        srv.stop()
        recipient.shutdown()


def test_filing_rules_deadline_extension_and_graphql(
        backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    env = server_env(backend, tmp_path, request)
    env["HEADWATER_ERASURE_WORKER"] = "false"  # keep the request open to extend it
    srv = Server(url=f"http://127.0.0.1:{free_port()}", env=env, data_dir=tmp_path)
    srv.start()
    try:
        with srv.client("steward") as c:
            def post(body: dict[str, Any]) -> httpx.Response:
                return c.post("/api/v1/erasure-requests", json=body)
            assert post({"identifiers": []}).status_code == 422
            bad = post({"identifiers": [{"kind": "E-Mail", "value": "x"}]})
            assert bad.status_code == 422 and "pii.<kind>" in bad.json()["detail"]
            bad = post({"identifiers": [{"kind": "email", "value": "x"}], "jurisdiction": "XX"})
            assert bad.status_code == 422 and "GDPR" in bad.json()["detail"]
            assert c.get("/api/v1/erasure-requests/nope").status_code == 404
            ccpa = post({"identifiers": [{"kind": "email", "value": "x@y.z"}],
                         "jurisdiction": "CCPA"}).json()
            received = datetime.fromisoformat(ccpa["receivedAt"].replace("Z", "+00:00"))
            deadline = datetime.fromisoformat(ccpa["deadline"].replace("Z", "+00:00"))
            assert deadline - received == timedelta(days=45)
            assert c.post(f"/api/v1/erasure-requests/{ccpa['id']}/extension",
                          json={}).status_code == 422  # a reason is required
            ext = c.post(f"/api/v1/erasure-requests/{ccpa['id']}/extension",
                         json={"reason": "records spread over 40 systems"})
            assert ext.status_code == 200
            assert ext.json()["deadline"] > ccpa["deadline"]
            assert ext.json()["extension"]["previousDeadline"] == ccpa["deadline"]
            again = c.post(f"/api/v1/erasure-requests/{ccpa['id']}/extension",
                           json={"reason": "more"})
            assert again.status_code == 409 and "once" in again.json()["detail"]
        with srv.client("viewer") as c:
            assert c.get(f"/api/v1/erasure-requests/{ccpa['id']}").status_code == 403

        data = srv.graphql("""mutation { fileErasureRequest(input: {identifiers: [
            {kind: "email", value: "g@q.l"}], reason: "form"}) {
            id status jurisdiction receivedAt deadline tasks { action } } }""", role="steward")
        filed = data["fileErasureRequest"]
        assert (filed["status"], filed["jurisdiction"], filed["tasks"]) == ("RECEIVED", "GDPR", [])
        got = srv.graphql("query($id: ID!) { erasureRequest(id: $id) { id status deadline } }",
                          role="steward", id=filed["id"])
        assert got["erasureRequest"]["id"] == filed["id"]
        cli_env = {**srv.env, "HEADWATER_TOKEN": srv.token("steward"), "HEADWATER_URL": srv.url}
        out = subprocess.run([sys.executable, "-m", "headwater", "erase", "request", "--id",
                              "email=c@d.e", "--id", "customer_id=9", "--jurisdiction", "CCPA"],
                             env=cli_env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        request_id = out.stdout.split()[0]
        shown = subprocess.run([sys.executable, "-m", "headwater", "erase", "status", request_id,
                                "--json"], env=cli_env, capture_output=True, text=True, timeout=60)
        status = json.loads(shown.stdout)
        assert (status["jurisdiction"], sorted(i["kind"] for i in status["identifiers"])) == (
            "CCPA", ["customer_id", "email"])
        bad = subprocess.run([sys.executable, "-m", "headwater", "erase", "request", "--id",
                              "email"], env=cli_env, capture_output=True, text=True, timeout=60)
        assert bad.returncode == 2 and "--id wants A=B, got 'email'" in bad.stderr
        with srv.client("viewer") as c:
            body = c.post("/graphql", json={"query": 'mutation { fileErasureRequest(input: '
                          '{identifiers: [{kind: "email", value: "v@w.x"}]}) { id } }'}).json()
        assert "steward" in body["errors"][0]["message"]
    finally:
        srv.stop()


def test_failed_request_retries_only_unfinished_tasks(
        tmp_path: Path, request: pytest.FixtureRequest) -> None:
    ready, missing = tmp_path / "ready.db", tmp_path / "later.db"
    with sqlite3.connect(ready) as db:
        db.execute("CREATE TABLE users (email TEXT)")
        db.executemany("INSERT INTO users VALUES (?)", [(SUBJECT,), ("bob@example.com",)])
    connectors = tmp_path / "connectors.toml"
    connectors.write_text("".join(f'[[connector]]\nnamespace = "sqlite://{p}"\n'
                                  for p in (ready, missing)))
    env = server_env("embedded", tmp_path, request)
    env.update({"HEADWATER_CONNECTORS_FILE": str(connectors), "HEADWATER_ERASURE_MAX_ATTEMPTS": "2",
                "HEADWATER_ERASURE_POLL_SECONDS": "0.2", "HEADWATER_ERASURE_BACKOFF_SECONDS": "0.1"})
    srv = Server(url=f"http://127.0.0.1:{free_port()}", env=env, data_dir=tmp_path)
    srv.start()
    try:
        with srv.client("producer") as c:
            for p in (ready, missing):
                assert c.post("/api/v1/lineage", json=run_event(
                    "COMPLETE", job=("app", f"load_{p.stem}"), outputs=[dataset(
                        f"sqlite://{p}", "users", s=schema("email"),
                        t=tags(fields={"email": "pii.email"}))])).status_code == 201
        with srv.client("steward") as c:
            filed = c.post("/api/v1/erasure-requests", json={
                "identifiers": [{"kind": "email", "value": SUBJECT}]}).json()
            failed = wait_for(srv, filed["id"], lambda r: r["status"] == "FAILED")
            tasks = {Path(t["dataset"]["namespace"]).name: t for t in failed["tasks"]}
            assert (tasks["ready.db"]["status"], tasks["ready.db"]["rowsAffected"]) == ("done", 1)
            assert (tasks["later.db"]["status"], tasks["later.db"]["attempts"]) == ("failed", 2)
            assert "does not exist" in tasks["later.db"]["error"]
            metrics = c.get("/metrics").text
            assert "headwater_erasure_open_requests" in metrics

            with sqlite3.connect(missing) as db:  # the operator fixes the cause
                db.execute("CREATE TABLE users (email TEXT)")
                db.execute("INSERT INTO users VALUES (?)", (SUBJECT,))
            assert c.post(f"/api/v1/erasure-requests/{filed['id']}/retry").status_code == 200
            done = wait_for(srv, filed["id"], lambda r: r["status"] == "COMPLETED")
            audit = audit_of(srv, c, filed["id"])
        tasks = {Path(t["dataset"]["namespace"]).name: t for t in done["tasks"]}
        assert (tasks["later.db"]["status"], tasks["later.db"]["rowsAffected"]) == ("done", 1)
        started = [e["task"] for e in audit if e["event"] == "attempt_started"]
        assert started.count(tasks["ready.db"]["id"]) == 1, "a finished task must not run again"
        with sqlite3.connect(missing) as db:
            assert db.execute("SELECT count(*) FROM users").fetchone() == (0,)
    finally:
        srv.stop()


def test_audit_read_says_verified_or_why_not_and_callbacks_tell_strangers_nothing(
        tmp_path: Path, request: pytest.FixtureRequest) -> None:
    env = server_env("embedded", tmp_path, request)
    env["HEADWATER_ERASURE_WORKER"] = "false"  # the trail stays as filed and extended
    srv = Server(url=f"http://127.0.0.1:{free_port()}", env=env, data_dir=tmp_path)
    srv.start()
    cli_env = {**srv.env, "HEADWATER_TOKEN": srv.token("steward"), "HEADWATER_URL": srv.url}

    def cli_audit(request_id: str, *flags: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "headwater", "erase", "audit", request_id,
                               *flags], env=cli_env, capture_output=True, text=True, timeout=60)

    try:
        with srv.client("steward") as c:
            filed = c.post("/api/v1/erasure-requests", json={
                "identifiers": [{"kind": "email", "value": SUBJECT}]}).json()
            assert c.post(f"/api/v1/erasure-requests/{filed['id']}/extension",
                          json={"reason": "records in 40 systems"}).status_code == 200
            entries = audit_of(srv, c, filed["id"])
        shown = cli_audit(filed["id"])
        assert shown.returncode == 0, shown.stderr
        assert f"verified (2 entries, head {entries[-1]['hash']})" in shown.stdout

        # A request filed by 0.1.0 (its unkeyed chain) reads as what it is.
        legacy = json.loads((Path(__file__).parents[1] / "integration" / "fixtures" /
                             "erasure-0.1.0.json").read_text())
        doc = legacy["doc"]
        with sqlite3.connect(tmp_path / "headwater.db") as db:
            db.execute("INSERT INTO erasures(id, version, status, received_at, doc)"
                       " VALUES (?,?,?,?,?)", (doc["id"], doc["version"], doc["status"],
                                               doc["receivedAt"], orjson.dumps(doc)))
            db.executemany("INSERT INTO erasure_audit(request_id, seq, entry) VALUES (?,?,?)",
                           [(doc["id"], e["seq"], orjson.dumps(e)) for e in legacy["audit"]])
        shown = cli_audit(doc["id"])
        assert shown.returncode == 0, shown.stderr
        assert (f"unkeyed (made before keyed audit chains, by Headwater 0.1.0): intact as a "
                f"hash chain, but not proof against a rewrite (2 entries, head "
                f"{doc['auditHead']})") in " ".join(shown.stdout.split())

        # Someone with the database file drops the trigger and edits the extension's reason.
        with sqlite3.connect(tmp_path / "headwater.db") as db:
            db.execute("DROP TRIGGER erasure_audit_no_update")
            db.execute("UPDATE erasure_audit SET entry = ? WHERE request_id = ? AND seq = 2",
                       (orjson.dumps({**entries[1], "reason": "the subject agreed"}),
                        filed["id"]))
        with srv.client("steward") as c:
            body = c.get(f"/api/v1/erasure-requests/{filed['id']}/audit").json()
        assert (body["verified"], body["integrity"]) == (False, "broken")
        assert body["reason"].startswith("entry 2 (deadline_extended) was altered")
        assert body["entries"][1]["reason"] == "the subject agreed", "shown, and flagged"
        shown = cli_audit(filed["id"])
        assert shown.returncode == 1
        assert "NOT verified: entry 2 (deadline_extended) was altered" in shown.stdout
        as_json = cli_audit(filed["id"], "--json")
        assert as_json.returncode == 1 and json.loads(as_json.stdout)["verified"] is False

        # The callback needs no Headwater token: an unknown request, an unknown task and a
        # wrong token are answered alike, so a stranger cannot tell which request ids exist.
        answers = []
        with httpx.Client(base_url=srv.url) as anonymous:
            for request_id, task_id in ((str(uuid.uuid4()), "t1"), (filed["id"], "t1"),
                                        (filed["id"], "t99")):
                r = anonymous.post(f"/api/v1/erasure-requests/{request_id}/tasks/{task_id}/"
                                   "callback", json={"token": "guess", "status": "done"})
                answers.append((r.status_code, r.content))
        assert answers[0] == answers[1] == answers[2], answers
        assert answers[0][0] == 403
    finally:
        srv.stop()


def test_a_classified_column_the_table_lacks_becomes_a_review_not_a_failure(
        tmp_path: Path, request: pytest.FixtureRequest, postgres_dsn: str) -> None:
    """The catalog says a column holds an identifier; the real table has no such column (it
    was renamed, or the classification is wrong). The subject's rows are erased by the
    columns that exist; the missing one becomes a review task saying what to fix; a table with
    no identifier column left is a review as a whole. Nothing retries into FAILED."""
    schema_name = f"gone_{uuid.uuid4().hex[:8]}"
    info = psycopg.conninfo.conninfo_to_dict(postgres_dsn)
    pg_ns = f"postgres://{info.get('host', '127.0.0.1')}:{info.get('port', 5432)}"
    pg = f"{info['dbname']}.{schema_name}"
    with psycopg.connect(postgres_dsn, autocommit=True) as c:
        c.execute(f"CREATE SCHEMA {schema_name}")
        c.execute(f"CREATE TABLE {schema_name}.people (id int, email text, name text)")
        c.execute(f"INSERT INTO {schema_name}.people VALUES (1, %s, 'Alice'),"
                  " (2, 'bob@example.com', 'Bob')", (SUBJECT,))
        c.execute(f"CREATE TABLE {schema_name}.contacts (contact text, note text)")
        c.execute(f"INSERT INTO {schema_name}.contacts VALUES (%s, 'x')", (SUBJECT,))
    app = tmp_path / "app.db"
    with sqlite3.connect(app) as db:
        db.execute("CREATE TABLE profiles (email TEXT, seg TEXT)")
        db.executemany("INSERT INTO profiles VALUES (?,?)",
                       [(SUBJECT, "gold"), ("bob@example.com", "silver")])
        db.execute("CREATE TABLE segments (email TEXT, phone TEXT)")
        db.executemany("INSERT INTO segments VALUES (?,?)",
                       [(SUBJECT, "555"), ("bob@example.com", "777")])
    sq_ns = f"sqlite://{app}"
    connectors = tmp_path / "connectors.toml"
    connectors.write_text(f'[[connector]]\nnamespace = "{pg_ns}"\ndsn = "{postgres_dsn}"\n'
                          f'[[connector]]\nnamespace = "{sq_ns}"\n')
    env = server_env("embedded", tmp_path, request)
    env.update({"HEADWATER_CONNECTORS_FILE": str(connectors), "HEADWATER_ERASURE_MAX_ATTEMPTS": "2",
                "HEADWATER_ERASURE_POLL_SECONDS": "0.2", "HEADWATER_ERASURE_BACKOFF_SECONDS": "0.1"})
    srv = Server(url=f"http://127.0.0.1:{free_port()}", env=env, data_dir=tmp_path)
    srv.start()
    try:
        outputs = [
            # customer_no is classified, but the table has no such column
            dataset(pg_ns, f"{pg}.people", s=schema("id", "email", "name", "customer_no"),
                    t=tags(fields={"email": "pii.email", "customer_no": "pii.customer_id"})),
            # the only identifier column is one the table does not have
            dataset(pg_ns, f"{pg}.contacts", s=schema("mail", "note"),
                    t=tags(fields={"mail": "pii.email"})),
            dataset(sq_ns, "profiles", s=schema("email", "seg", "cust_id"),
                    t=tags(fields={"email": "pii.email", "cust_id": "pii.customer_id"})),
            # anonymised: a PII column to mask that is not there
            dataset(sq_ns, "segments", s=schema("email", "phone", "fax"),
                    t=tags(("erasure-action", "anonymise"), ("erasure-strategy", "redact"),
                           fields={"email": "pii.email", "phone": "pii.phone",
                                   "fax": "pii.phone"})),
        ]
        with srv.client("producer") as c:
            for n, out in enumerate(outputs):
                assert c.post("/api/v1/lineage", json=run_event(
                    "COMPLETE", job=("app", f"load{n}"), outputs=[out])).status_code == 201
        with srv.client("steward") as c:
            filed = c.post("/api/v1/erasure-requests", json={"identifiers": [
                {"kind": "email", "value": SUBJECT}, {"kind": "customer_id", "value": "1"}]}).json()
        req = wait_for(srv, filed["id"], lambda r: r["status"] not in ("RECEIVED", "PLANNED",
                                                                        "RUNNING"))
        assert req["status"] == "PARTIAL", json.dumps(req)[:3000]
        tasks = {t["id"]: t for t in req["tasks"]}
        by = {(short(t["dataset"]["name"]), t["status"]): t for t in req["tasks"]}
        assert sorted(by) == [("contacts", "review"), ("people", "done"), ("people", "review"),
                              ("profiles", "done"), ("profiles", "review"),
                              ("segments", "done"), ("segments", "review")], sorted(by)

        people, people_review = by["people", "done"], by["people", "review"]
        assert (people["fields"], people["rowsAffected"], people["attempts"]) == (["email"], 1, 1)
        assert people_review["id"] == f"{people['id']}-review"
        assert people_review["fields"] == ["customer_no"]
        assert people_review["reviewReason"].startswith(
            f"{pg}.people has no column customer_no (classified pii.customer_id): it has "
            "email, id, name; the subject's rows are deleted by email")
        assert "fix the classification" in people_review["reviewReason"]
        contacts = by["contacts", "review"]
        assert contacts["attempts"] == 0 and contacts["error"] is None
        assert "no column mail (classified pii.email)" in contacts["reviewReason"]
        assert "no identifier column left" in contacts["reviewReason"]
        assert by["profiles", "done"]["rowsAffected"] == 1
        assert "no column cust_id" in by["profiles", "review"]["reviewReason"]
        assert "no column fax (classified PII, to be masked)" in by[
            "segments", "review"]["reviewReason"]
        assert by["segments", "done"]["rowsAffected"] == 1
        assert len(tasks) == 7

        with psycopg.connect(postgres_dsn) as c:
            assert c.execute(f"SELECT id FROM {schema_name}.people").fetchall() == [(2,)]
        with sqlite3.connect(app) as db:
            assert db.execute("SELECT email FROM profiles").fetchall() == [("bob@example.com",)]
            assert db.execute("SELECT * FROM segments ORDER BY rowid").fetchall() == [
                ("[REDACTED]", "[REDACTED]"), ("bob@example.com", "777")]
        with srv.client("steward") as c:
            audit = audit_of(srv, c, filed["id"])
            assert sorted(e["missing"] for e in audit if e["event"] == "columns_missing") == [
                ["cust_id"], ["customer_no"], ["fax"], ["mail"]]
            assert "attempt_failed" not in [e["event"] for e in audit]
            for t in req["tasks"]:  # a steward closes the reviews: the request completes
                if t["status"] == "review":
                    assert c.post(f"/api/v1/erasure-requests/{filed['id']}/tasks/{t['id']}/"
                                  "close", json={"note": "checked by hand"}).status_code == 200
            assert c.get(f"/api/v1/erasure-requests/{filed['id']}").json()["status"] == "COMPLETED"
    finally:
        srv.stop()
        with psycopg.connect(postgres_dsn, autocommit=True) as c:
            c.execute(f"DROP SCHEMA {schema_name} CASCADE")
