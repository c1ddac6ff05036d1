"""`headwater ingest` sends JSON and NDJSON files in batches and reports what happened."""

from __future__ import annotations

import json
from pathlib import Path

import orjson

from tests.e2e.conftest import Server
from tests.factories import dataset, run_event, schema


def test_ingest_files_then_reingest_is_a_noop(server: Server, tmp_path: Path) -> None:
    events = [run_event("COMPLETE", outputs=[dataset("file", f"/data/t{i}.csv", s=schema("a"))])
              for i in range(7)]
    (tmp_path / "one.json").write_bytes(orjson.dumps(events[0]))
    (tmp_path / "many.ndjson").write_bytes(b"\n".join(orjson.dumps(e) for e in events[1:]))
    server.env["HEADWATER_TOKEN"] = server.token("producer")
    files = [str(tmp_path / "one.json"), str(tmp_path / "many.ndjson")]
    first = server.cli("ingest", *files, "--batch-size", "3", "--url", server.url)
    assert json.loads(first.stdout.strip().splitlines()[-1]) == {
        "created": 7, "duplicate": 0, "invalid": 0}
    again = server.cli("ingest", *files, "--url", server.url)
    assert json.loads(again.stdout.strip().splitlines()[-1]) == {
        "created": 0, "duplicate": 7, "invalid": 0}


def test_ingest_reports_invalid_events_and_exits_1(server: Server, tmp_path: Path) -> None:
    bad = run_event("START")
    bad["run"]["runId"] = "nope"
    (tmp_path / "bad.json").write_bytes(orjson.dumps([run_event("START"), bad]))
    server.env["HEADWATER_TOKEN"] = server.token("producer")
    result = server.cli("ingest", str(tmp_path / "bad.json"), "--url", server.url, check=False)
    assert result.returncode == 1
    assert "event 1: /1/run/runId: Input should be a valid UUID" in result.stderr
    (tmp_path / "broken.json").write_text("{nope")
    broken = server.cli("ingest", str(tmp_path / "broken.json"), "--url", server.url, check=False)
    assert broken.returncode == 1 and "not valid JSON" in broken.stderr
