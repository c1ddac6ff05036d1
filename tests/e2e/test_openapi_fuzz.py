"""Schemathesis over Headwater's own OpenAPI document, against a real server (a subprocess on
the embedded store): every REST operation is fuzzed with an admin token (a role that reaches
every route) and without one. Every answer must be no 5xx, within the per-request timeout, and
a status code and content type the document declares for that operation, with a body matching
the declared schema.

Examples are random on every run; under CI (``CI`` set) they are derived from the test itself
(``derandomize``), so a CI run is repeatable and a failure there reproduces."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.conftest import Server, free_port, server_env

REPEATABLE = bool(os.environ.get("CI"))
# Per operation: 19 operations x (authenticated + not) stay near a minute on a loaded 2-core box.
EXAMPLES = int(os.environ.get("HEADWATER_FUZZ_EXAMPLES", "25"))
TIMEOUT = 10.0  # seconds per request: a hang fails the test rather than holding it
CHECKS = [schemathesis.checks.not_a_server_error, status_code_conformance,
          content_type_conformance, response_headers_conformance, response_schema_conformance]
FUZZ = settings(max_examples=EXAMPLES, deadline=timedelta(seconds=30), database=None,
                derandomize=REPEATABLE,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
                report_multiple_bugs=False)


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
           ) -> Iterator[Server]:
    data = Path(tmp_path_factory.mktemp("fuzz"))
    srv = Server(url=f"http://127.0.0.1:{free_port()}",
                 env=server_env("embedded", data, request), data_dir=data)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
        log = srv.log.read_text() if srv.log else ""
        # A handler that crashed is a bug even when the client saw a well-formed answer.
        assert "Traceback" not in log, log[-4000:]


def fuzz(srv: Server, headers: dict[str, str]) -> list[str]:
    """Every operation of the served document, ``EXAMPLES`` cases each; what failed, per
    operation (Hypothesis shrinks each failure to its smallest case)."""
    api = schemathesis.openapi.from_url(f"{srv.url}/openapi.json")
    failures: list[str] = []
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 15, "the OpenAPI document lost its operations"
    for operation in operations:

        @FUZZ
        @given(case=operation.as_strategy())
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, timeout=TIMEOUT, checks=CHECKS)

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # every operation is fuzzed; all reported
            failures.append(f"{operation.label}: {exc}")
    return failures


def test_every_operation_as_admin(fuzzed: Server) -> None:
    failures = fuzz(fuzzed, {"Authorization": f"Bearer {fuzzed.token('admin')}"})
    assert not failures, "\n\n".join(failures)


def test_every_operation_without_a_token(fuzzed: Server) -> None:
    failures = fuzz(fuzzed, {})
    assert not failures, "\n\n".join(failures)
