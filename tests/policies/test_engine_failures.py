"""An engine that cannot answer raises PolicyEngineUnavailable, promptly, never a stray error:
the gate turns that into a fail-closed deny."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from headwater.policies.engine import (
    EmbeddedEngine,
    OpaEngine,
    PolicyEngineUnavailable,
    open_engine,
)
from tests.harness.services import start_opa

DECISION = "headwater/gate/decision"
EMPTY = {"job": {"namespace": "etl", "name": "j", "tags": []}, "context": {}, "inputs": [],
         "outputs": [], "flows": []}


@pytest.fixture
def hung_peer() -> Iterator[str]:
    """Accepts connections and never answers: what a wedged OPA or a stalled proxy looks like."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()
    for conn in held:
        conn.close()


@pytest.fixture
def garbage_peer() -> Iterator[str]:
    """Answers 200 with an HTML page, as a misrouted load balancer would."""

    class Handler(BaseHTTPRequestHandler):
        def _html(self) -> None:
            body = b"<html><body>502 upstream unavailable</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _html

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_hung_server_times_out_as_unavailable(hung_peer: str) -> None:
    engine = OpaEngine(hung_peer, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(PolicyEngineUnavailable, match=hung_peer):
        engine.evaluate(DECISION, EMPTY)
    assert time.monotonic() - started < 3, "the timeout was not honoured (retries?)"
    with pytest.raises(PolicyEngineUnavailable):
        engine.ping()


def test_a_garbage_answer_is_unavailable(garbage_peer: str) -> None:
    with pytest.raises(PolicyEngineUnavailable, match=garbage_peer):
        OpaEngine(garbage_peer, timeout=2).evaluate(DECISION, EMPTY)


def test_an_opa_without_the_bundle_is_unavailable_not_undefined() -> None:
    service = start_opa()  # a real OPA that never loaded policies/rego
    try:
        with pytest.raises(PolicyEngineUnavailable, match="headwater/gate/decision"):
            OpaEngine(service.url).evaluate(DECISION, EMPTY)
    finally:
        service.stop()


def test_nothing_listening_is_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: connection refused
    with pytest.raises(PolicyEngineUnavailable):
        open_engine("opa", url=f"http://127.0.0.1:{port}", timeout=1).evaluate(DECISION, EMPTY)


def test_embedded_engine_names_an_undefined_document() -> None:
    with pytest.raises(PolicyEngineUnavailable, match="data.headwater.gate.nope"):
        EmbeddedEngine().evaluate("headwater/gate/nope", EMPTY)


def test_unknown_engine_kind_says_what_exists() -> None:
    with pytest.raises(ValueError, match="'embedded' or 'opa'"):
        open_engine("wasm")
