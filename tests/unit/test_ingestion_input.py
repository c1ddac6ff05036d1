"""Bodies an adversary or a broken producer sends, through the ingestion service on a real
embedded store: every one is read whole or refused with a clear typed error (a 4xx), what was
refused is in the dead-letter store, and the valid events beside a bad one are stored."""

from __future__ import annotations

import gc
import gzip
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from headwater.api.problems import status_of
from headwater.catalog.errors import Conflict, Invalid, Malformed, Unsupported
from headwater.catalog.ids import job_id
from headwater.ingestion.intake import parse_lines
from headwater.ingestion.openlineage import InvalidEvent
from tests.factories import dataset, run_event, schema, ts
from tests.unit.ingestion_harness import InProcess

NS = "postgres://db:5432"


@pytest.fixture
def hw(tmp_path: Path) -> Iterator[InProcess]:
    service = InProcess(tmp_path / "headwater.db")
    try:
        yield service
    finally:
        service.close()


def event(name: str = "t", **kw: Any) -> dict[str, Any]:
    return run_event("COMPLETE", outputs=[dataset(NS, name, s=schema("a"))], **kw)


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


def deep_json(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def ndjson(*events: dict[str, Any]) -> bytes:
    return b"\n".join(orjson.dumps(e) for e in events) + b"\n"


# ---------------------------------------------------------------- item 4: gzip members


def test_every_gzip_member_of_a_batch_is_read(hw: InProcess) -> None:
    first, second = event("one"), event("two")
    body = gzip.compress(ndjson(first)) + gzip.compress(ndjson(second))
    done = hw.batch(body, "gzip")
    assert (done.created, done.invalid) == (2, 0)
    assert hw.store.event_count() == 2


def test_one_event_in_two_gzip_members_is_not_one_json_document(hw: InProcess) -> None:
    body = gzip.compress(orjson.dumps(event("one"))) + gzip.compress(orjson.dumps(event("two")))
    with pytest.raises(Malformed) as caught:
        hw.accept(body, "gzip")
    assert status_of(caught.value)[0] == 400
    assert "one JSON document" in caught.value.errors[0]["message"]
    assert hw.store.event_count() == 0
    assert len(hw.dead_letters()) == 1


@pytest.mark.parametrize("tail", [b"garbage", b"\x1f\x8b\x08", b"\x00\x00\x01"])
def test_a_gzip_member_followed_by_garbage_stores_nothing(hw: InProcess, tail: bytes) -> None:
    body = gzip.compress(orjson.dumps(event())) + tail
    with pytest.raises(Malformed) as caught:
        hw.accept(body, "gzip")
    assert status_of(caught.value)[0] == 400
    assert "not valid gzip" in str(caught.value)
    assert hw.store.event_count() == 0
    (letter,) = hw.dead_letters()
    assert letter.payload == body and letter.reason == "undecodable body"


def test_a_truncated_gzip_member_stores_nothing(hw: InProcess) -> None:
    body = gzip.compress(orjson.dumps(event()))[:-4]  # the length trailer cut short
    with pytest.raises(Malformed, match="truncated"):
        hw.accept(body, "gzip")
    assert hw.store.event_count() == 0


def test_zero_padding_after_the_last_member_is_allowed(hw: InProcess) -> None:
    assert hw.accept(gzip.compress(orjson.dumps(event())) + b"\0" * 8, "gzip").new


def test_thousands_of_tiny_members_are_refused_quickly(hw: InProcess) -> None:
    with pytest.raises(Malformed, match="more than 1000 gzip members"):
        hw.accept(gzip.compress(b"") * 50_000, "gzip")


# ---------------------------------------------------------------- item 5: encodings, depth


def test_invalid_gzip_is_a_400_and_dead_lettered(hw: InProcess) -> None:
    with pytest.raises(Malformed) as caught:
        hw.accept(b"this is not gzip", "gzip")
    assert status_of(caught.value)[0] == 400
    (letter,) = hw.dead_letters()
    assert letter.payload == b"this is not gzip"


def test_deflate_is_read_in_zlib_and_raw_form(hw: InProcess) -> None:
    assert hw.accept(zlib.compress(orjson.dumps(event("z"))), "deflate").new
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    assert hw.accept(raw.compress(orjson.dumps(event("r"))) + raw.flush(), "Deflate").new
    assert hw.batch(zlib.compress(ndjson(event("b1"), event("b2"))), "deflate").created == 2
    assert hw.store.event_count() == 4


def test_stacked_encodings_are_undone_in_reverse(hw: InProcess) -> None:
    body = gzip.compress(zlib.compress(orjson.dumps(event())))
    assert hw.accept(body, "deflate, gzip").new


@pytest.mark.parametrize("encoding", ["br", "zstd", "gzip, br"])
def test_an_unsupported_encoding_is_a_415_naming_the_supported_ones(
        hw: InProcess, encoding: str) -> None:
    with pytest.raises(Unsupported) as caught:
        hw.accept(b"\x0b\x02\x80{}\x03", encoding)
    assert status_of(caught.value)[0] == 415
    assert "gzip, deflate, identity" in str(caught.value)
    assert len(hw.dead_letters()) == 1


def test_json_nested_300_deep_in_a_facet_is_a_422_with_its_pointer(hw: InProcess) -> None:
    body = orjson.dumps(event()).replace(b'"facets":{"schema"',
                                         b'"facets":{"deep":' + deep_json(300) + b',"schema"', 1)
    with pytest.raises(InvalidEvent) as caught:
        hw.accept(body)
    assert status_of(caught.value)[0] == 422
    (error,) = caught.value.errors
    assert error["pointer"].startswith("/outputs/0/facets/deep/a/a")
    assert "nested more than 254" in error["message"]
    (letter,) = hw.dead_letters()
    assert letter.payload == body


@pytest.mark.parametrize("depth", [300, 1000])
def test_a_deeply_nested_event_in_a_batch_does_not_lose_its_neighbours(
        hw: InProcess, depth: int) -> None:
    bad = orjson.dumps(event("bad")).replace(b'"run":{', b'"run":{"x":' + deep_json(depth)
                                              + b",", 1)
    for body in (b"[" + b",".join([orjson.dumps(event("a")), bad, orjson.dumps(event("b"))])
                 + b"]",
                 orjson.dumps(event("c")) + b"\n" + bad + b"\n" + orjson.dumps(event("d"))):
        done = hw.batch(body)
        assert (done.created, done.invalid) == (2, 1)
        assert done.results[1]["status"] == "invalid"
        assert done.results[1]["errors"][0]["pointer"].startswith("/1/run/x/a/a")
    assert hw.store.event_count() == 4
    assert len(hw.dead_letters()) == 2


def test_a_time_out_of_range_in_utc_is_a_422(hw: InProcess) -> None:
    bad = event(time="0001-01-01T00:00:00+14:00")
    with pytest.raises(InvalidEvent) as caught:
        hw.accept(orjson.dumps(bad))
    assert caught.value.errors == [{"pointer": "/eventTime",
                                    "message": "is out of range once converted to UTC"}]


# ---------------------------------------------------------------- item 17: NDJSON lines


def test_an_unparseable_ndjson_line_is_reported_and_kept_the_rest_stored(hw: InProcess) -> None:
    body = ndjson(event("a")) + b'{"eventTime": "2026-\n' + ndjson(event("b"), event("c"))
    done = hw.batch(body)
    assert (done.created, done.invalid) == (3, 1)
    assert [r["status"] for r in done.results] == ["created", "invalid", "created", "created"]
    assert done.results[1]["errors"][0]["pointer"] == "/1"
    assert "not valid JSON" in done.results[1]["errors"][0]["message"]
    (letter,) = hw.dead_letters()
    assert letter.payload == b'{"eventTime": "2026-'
    assert hw.store.event_count() == 3


def test_a_json_array_that_does_not_parse_is_a_400_and_kept(hw: InProcess) -> None:
    with pytest.raises(Malformed):
        hw.batch(b"[" + orjson.dumps(event()) + b", {")
    assert len(hw.dead_letters()) == 1 and hw.store.event_count() == 0


# ---------------------------------------------------------------- item 15: control characters


@pytest.mark.parametrize(("mutate", "pointer"), [
    (lambda e: e["job"].update(namespace="etl\x00"), "/job/namespace"),
    (lambda e: e["job"].update(name="load\x01orders"), "/job/name"),
    (lambda e: e["outputs"][0].update(namespace="pg\x00"), "/outputs/0/namespace"),
    (lambda e: e["outputs"][0].update(name="t\x7f"), "/outputs/0/name"),
    (lambda e: e["outputs"][0]["facets"]["schema"]["fields"][0].update(name="a\x00"),
     "/outputs/0/facets/schema/fields/0/name"),
    (lambda e: e["outputs"][0]["facets"].update(columnLineage={"fields": {"a\x00": {
        "inputFields": [{"namespace": NS, "name": "s", "field": "b"}]}}}),
     "/outputs/0/facets/columnLineage/fields/a\x00"),
    (lambda e: e["outputs"][0]["facets"].update(columnLineage={"fields": {"a": {
        "inputFields": [{"namespace": NS, "name": "s", "field": "b\n"}]}}}),
     "/outputs/0/facets/columnLineage/fields/a/inputFields/0/field"),
    (lambda e: e["outputs"][0]["facets"].update(tags={"tags": [
        {"key": "classification", "value": "pii.email", "field": "a\x00"}]}),
     "/outputs/0/facets/tags/tags/0/field"),
])
def test_a_control_character_in_a_name_is_a_422_with_its_pointer(
        hw: InProcess, mutate: Any, pointer: str) -> None:
    bad = event()
    mutate(bad)
    with pytest.raises(InvalidEvent) as caught:
        hw.accept(orjson.dumps(bad))
    assert status_of(caught.value)[0] == 422
    assert [e["pointer"] for e in caught.value.errors] == [pointer]
    assert "control characters" in caught.value.errors[0]["message"]
    assert hw.store.event_count() == 0 and len(hw.dead_letters()) == 1


def test_a_control_character_in_a_quality_result_name_is_a_422(hw: InProcess) -> None:
    body = orjson.dumps({"results": [{"namespace": NS, "name": "t\x00", "assertion": "x",
                                      "success": True, "observedAt": ts(1)}]})
    with pytest.raises(Invalid) as caught:
        hw.run(hw.ingestion.accept_quality(body))
    assert [e["pointer"] for e in caught.value.errors] == ["/results/0/name"]


def test_names_with_spaces_and_unicode_are_still_accepted(hw: InProcess) -> None:
    assert hw.accept(orjson.dumps(event("Kundenübersicht 2026 – Zürich\u00a0v2"))).new


# ---------------------------------------------------------------- item 11: a run's job


def test_a_run_id_of_another_job_is_a_409_naming_both_jobs(hw: InProcess) -> None:
    run = str(uuid.uuid4())
    assert hw.accept(orjson.dumps(event(run_id=run, job=("etl", "a")))).new
    with pytest.raises(Conflict) as caught:
        hw.accept(orjson.dumps(event(run_id=run, job=("etl", "b"), time=ts(9))))
    assert status_of(caught.value)[0] == 409
    assert job_id("etl", "a") in str(caught.value) and job_id("etl", "b") in str(caught.value)
    (letter,) = hw.dead_letters()
    assert letter.reason == "run of another job"
    assert hw.store.run(run).job_id == job_id("etl", "a")  # type: ignore[union-attr]


def test_a_run_id_of_another_job_in_a_batch_loses_nothing_else(hw: InProcess) -> None:
    run = str(uuid.uuid4())
    done = hw.batch(ndjson(event("x", run_id=run, job=("etl", "a")),
                           event("y", run_id=run, job=("etl", "b")),
                           event("z", job=("etl", "b"))))
    assert (done.created, done.conflict, done.invalid) == (2, 1, 0)
    assert done.results[1]["status"] == "conflict"
    assert done.results[1]["errors"][0]["pointer"] == "/1/run/runId"
    assert job_id("etl", "a") in done.results[1]["errors"][0]["message"]
    assert len(hw.dead_letters()) == 1 and hw.store.event_count() == 2


# ---------------------------------------------------------------- the collector and a batch


@pytest.fixture
def collections() -> Iterator[list[int]]:
    """The generation of every cyclic-collector pass made while the test runs."""
    seen: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            seen.append(info["generation"])

    gc.callbacks.append(count)
    try:
        yield seen
    finally:
        gc.callbacks.remove(count)


def test_a_batch_parses_without_collector_passes_and_leaves_it_on(
        collections: list[int]) -> None:
    # 500 events are ~100,000 dicts and lists: passes over them all find no garbage.
    events = [event(f"t{i}") for i in range(500)]
    body, lines = b"[" + b",".join(orjson.dumps(e) for e in events) + b"]", ndjson(*events)
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # Python's defaults: the two parses made 16 passes
    try:
        collections.clear()
        assert len(parse_lines(body)) == 500
        assert len(parse_lines(lines)) == 500
        assert len(collections) <= 2  # the passes due, made up for once after each parse
        assert gc.isenabled()
        with pytest.raises(Malformed):
            parse_lines(body[:-1])
        assert gc.isenabled()
        gc.disable()  # a process that chose to run without it keeps its choice
        try:
            parse_lines(body)
            assert not gc.isenabled()
        finally:
            gc.enable()
    finally:
        gc.set_threshold(*before)
