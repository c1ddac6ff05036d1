"""Property-based tests of event decoding and normalisation (Hypothesis).

(a) Whatever bytes arrive, under whatever Content-Encoding, the ingestion service answers with
    a result or a typed error that maps to a 4xx: nothing else escapes it.
(b) Any valid event normalises, and normalising it again (re-serialised, keys in another
    order) gives the same event id: the id is the idempotency key.

Examples are bounded (100 per property; ``HEADWATER_HYPOTHESIS_EXAMPLES`` for a longer hunt) and
the deadline generous so that ``make test`` stays quick and steady on a busy machine. Locally the
examples are random on every run (nothing is written to disk); under CI (``CI`` set) they are
derived from the tests themselves, so a CI run is repeatable and a failure there reproduces.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
import uuid
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headwater.api.problems import status_of
from headwater.catalog.errors import HeadwaterError
from headwater.ingestion.normalize import normalize
from tests.unit.ingestion_harness import InProcess

# HEADWATER_HYPOTHESIS_EXAMPLES=5000 for a longer hunt than make test's.
EXAMPLES = int(os.environ.get("HEADWATER_HYPOTHESIS_EXAMPLES", "100"))
REPEATABLE = bool(os.environ.get("CI"))
FAST = settings(max_examples=EXAMPLES, deadline=timedelta(seconds=10), database=None,
                derandomize=REPEATABLE,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

# ---------------------------------------------------------------- strategies

# Names as producers write them: any printable text (control characters are refused).
names = st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=20)
json_scalars = (st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
                | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=10))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                 max_size=3),
    max_leaves=8)
times = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9998, 12, 30),
                     timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)),
                                                timezone(timedelta(hours=-8))]))
custom_facets = st.dictionaries(st.sampled_from(["custom", "x_vendor", "spark_plan"]),
                                st.dictionaries(st.text(max_size=6), json_values, max_size=3),
                                max_size=2)


@st.composite
def datasets(draw: st.DrawFn) -> dict[str, Any]:
    facets: dict[str, Any] = draw(custom_facets)
    fields = draw(st.lists(names, max_size=4, unique=True))
    if fields:
        facets["schema"] = {"fields": [{"name": f, "type": draw(st.sampled_from(
            ["string", "int", None]))} for f in fields]}
        facets["columnLineage"] = {"fields": {f: {"inputFields": [{
            "namespace": draw(names), "name": draw(names), "field": draw(names),
            "transformations": [{"type": "DIRECT", "subtype": "IDENTITY",
                                 "masking": draw(st.booleans())}]}]} for f in fields[:2]}}
        facets["tags"] = {"tags": [{"key": "classification", "value": "pii.email",
                                    "field": fields[0]}, {"key": draw(names)}]}
    if draw(st.booleans()):
        facets["ownership"] = {"owners": [{"name": draw(names), "type": "team"}]}
    if draw(st.booleans()):
        facets["documentation"] = {"description": draw(st.text(max_size=30))}
    return {"namespace": draw(names), "name": draw(names), "facets": facets}


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["run", "run", "job", "dataset"]))
    out: dict[str, Any] = {
        "eventTime": draw(times).isoformat(), "producer": "https://example.com/producer",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json",
    }
    if kind == "dataset":
        out["dataset"] = draw(datasets())
        return out
    out["job"] = {"namespace": draw(names), "name": draw(names), "facets": draw(custom_facets)}
    out["inputs"] = draw(st.lists(datasets(), max_size=2))
    out["outputs"] = draw(st.lists(datasets(), max_size=2))
    if kind == "run":
        out["eventType"] = draw(st.sampled_from(
            ["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"]))
        out["run"] = {"runId": str(draw(st.uuids())), "facets": draw(custom_facets)}
        if draw(st.booleans()):
            out["run"]["facets"]["nominalTime"] = {"nominalStartTime": draw(times).isoformat()}
        if draw(st.booleans()):
            out["run"]["facets"]["parent"] = {"run": {"runId": str(draw(st.uuids()))},
                                              "job": {"namespace": "p", "name": "q"}}
    return out


@st.composite
def mutated_events(draw: st.DrawFn) -> Any:
    """A valid event with one value somewhere replaced by any JSON value."""
    event = draw(events())
    node: Any = event
    for _ in range(draw(st.integers(0, 6))):
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        if not keys:
            break
        key = draw(st.sampled_from(keys))
        if not isinstance(node[key], dict | list) or draw(st.booleans()):
            node[key] = draw(json_values)
            break
        node = node[key]
    return event


def shuffled(value: Any, draw: st.DrawFn) -> Any:
    """The same JSON value with every object's keys in another order."""
    if isinstance(value, dict):
        keys = draw(st.permutations(list(value)))
        return {k: shuffled(value[k], draw) for k in keys}
    if isinstance(value, list):
        return [shuffled(v, draw) for v in value]
    return value


anything = st.one_of(
    st.binary(max_size=300),
    json_values.map(orjson.dumps),
    events().map(orjson.dumps),
    mutated_events().map(orjson.dumps),
    st.lists(mutated_events() | json_values, max_size=4).map(orjson.dumps),
    st.lists(st.one_of(mutated_events().map(orjson.dumps), st.binary(max_size=40)),
             max_size=4).map(b"\n".join),
)
encodings = st.sampled_from([None, "", "identity", "gzip", "x-gzip", "deflate", "br",
                             "gzip, gzip", "GZIP", "compress"])


@st.composite
def encoded_bodies(draw: st.DrawFn) -> tuple[bytes, str | None]:
    body, encoding = draw(anything), draw(encodings)
    if encoding and "gzip" in encoding.lower() and draw(st.booleans()):
        body = gzip.compress(body, mtime=0)  # generated data must not depend on the clock
        if draw(st.booleans()):  # a second member, or a tail of anything
            body += draw(st.binary(max_size=20) | st.just(gzip.compress(b"{}", mtime=0)))
    elif encoding == "deflate" and draw(st.booleans()):
        body = zlib.compress(body)
    if body and draw(st.integers(0, 4)) == 0:  # flip one byte
        i = draw(st.integers(0, len(body) - 1))
        body = body[:i] + bytes([body[i] ^ draw(st.integers(1, 255))]) + body[i + 1:]
    return body, encoding


# ---------------------------------------------------------------- (a) any bytes


@pytest.fixture(scope="module")
def hw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcess]:
    # In memory where the machine has it: durability is not what these properties are about,
    # and an fsync per example would be most of their time.
    shm = Path("/dev/shm")
    where = (Path(tempfile.mkdtemp(dir=shm)) if shm.is_dir() and os.access(shm, os.W_OK)
             else tmp_path_factory.mktemp("props"))
    service = InProcess(where / "headwater.db", max_body_bytes=64 * 1024, max_batch_events=10)
    try:
        yield service
    finally:
        service.close()
        shutil.rmtree(where, ignore_errors=True)


def _answers_or_refuses_with_a_4xx(call: Any) -> None:
    try:
        call()
    except HeadwaterError as exc:
        status, _ = status_of(exc)
        assert 400 <= status < 500, f"{type(exc).__name__} ({status}): {exc}"


@FAST
@given(encoded_bodies())
def test_any_body_as_one_event_is_stored_or_refused_with_a_4xx(
        hw: InProcess, sent: tuple[bytes, str | None]) -> None:
    _answers_or_refuses_with_a_4xx(lambda: hw.accept(*sent))


@FAST
@given(encoded_bodies())
def test_any_body_as_a_batch_is_stored_or_refused_with_a_4xx(
        hw: InProcess, sent: tuple[bytes, str | None]) -> None:
    def call() -> None:
        done = hw.batch(*sent)
        assert done.created + done.duplicate + done.invalid + done.conflict == len(done.results)
        assert [r["index"] for r in done.results] == list(range(len(done.results)))

    _answers_or_refuses_with_a_4xx(call)


# ---------------------------------------------------------------- (b) valid events


@settings(max_examples=EXAMPLES, deadline=timedelta(seconds=2), database=None,
          derandomize=REPEATABLE)
@given(events(), st.data())
def test_a_valid_event_normalises_to_the_same_id_every_time(
        event: dict[str, Any], data: st.DataObject) -> None:
    first = normalize(event)
    assert normalize(event).event_id == first.event_id
    again = orjson.loads(orjson.dumps(shuffled(event, data.draw)))
    assert normalize(again) == first
    assert first.payload == orjson.dumps(event, option=orjson.OPT_SORT_KEYS)


@FAST
@given(events())
def test_a_valid_event_is_stored_once_however_often_it_is_sent(
        hw: InProcess, event: dict[str, Any]) -> None:
    # Never sent before (the store is shared with the tests above), and a run id of its own:
    # this property is not about run ownership.
    event["producer"] = f"https://example.com/{uuid.uuid4()}"
    if event.get("run"):
        event["run"]["runId"] = str(uuid.uuid4())
    body = orjson.dumps(event)
    first = hw.accept(body)
    assert first.new
    again = hw.accept(gzip.compress(body), "gzip")
    assert (again.event_id, again.new) == (first.event_id, False)
