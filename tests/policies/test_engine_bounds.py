"""Every engine is bounded: the shipped policy costs time linear in its input, a Wasm
evaluation past the timeout is stopped (and holds no other caller up), regopy is waited on at
most the timeout, and an OPA server's answer at most the timeout too."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from headwater.policies import engine as engines
from headwater.policies.engine import BUNDLE, EmbeddedEngine, OpaEngine, PolicyEngine
from tests.harness.services import start_opa

# Looked up when used, so that this module also runs against a release without them (to see
# these tests fail there).
PolicyTimeout: Any = getattr(engines, "PolicyTimeout", engines.PolicyEngineUnavailable)

DECISION = "headwater/gate/decision"


def ds(kind: str, i: int, retention: int | None = None, pii: bool = False) -> dict[str, Any]:
    return {"id": f"dataset:pg:{kind}{i}", "namespace": "pg", "name": f"{kind}{i}",
            "known": True, "tags": [], "retentionDays": retention, "purposes": [],
            "piiAllowed": [], "quality": {"failed": [], "passed": []},
            "fields": [{"name": "f", "type": "varchar", "inherited": [],
                        "classifications": ["pii.email"] if pii else []}]}


def many_inputs(n: int) -> dict[str, Any]:
    """What the issue sent: one job reading n datasets, no flows known."""
    return {"job": {"namespace": "etl", "name": "j", "tags": []}, "context": {},
            "inputs": [ds("in", i) for i in range(n)], "outputs": [{**ds("out", 0), "fedBy": []}],
            "flows": []}


def many_flows(n: int) -> dict[str, Any]:
    """n PII inputs kept 30 days, each copied into its own output kept 90: n masks and n
    retention denials."""
    return {"job": {"namespace": "etl", "name": "j", "tags": []}, "context": {},
            "inputs": [ds("in", i, 30, pii=True) for i in range(n)],
            "outputs": [{**ds("out", i, 90), "fedBy": [f"dataset:pg:in{i}"]} for i in range(n)],
            "flows": [{"from": {"namespace": "pg", "name": f"in{i}", "field": "f",
                                "dataset": f"dataset:pg:in{i}"},
                       "to": {"namespace": "pg", "name": f"out{i}", "field": "f",
                              "dataset": f"dataset:pg:out{i}"},
                       "transformation": "DIRECT/IDENTITY", "masking": False}
                      for i in range(n)]}


def cpu_seconds(engine: PolicyEngine, doc: dict[str, Any]) -> float:
    """The evaluating thread's CPU time (the machine is shared: wall time is noisy)."""
    started = time.thread_time()
    answer = engine.evaluate(DECISION, doc)
    assert answer["decision"] in ("allow", "deny")
    return time.thread_time() - started


@pytest.mark.parametrize("shape", [many_inputs, many_flows])
def test_the_policy_costs_time_linear_in_its_input_on_wasm(shape: Any) -> None:
    engine = EmbeddedEngine(opa=None)
    assert engine.evaluator == "wasm"
    cpu_seconds(engine, shape(100))  # warm
    small = min(cpu_seconds(engine, shape(1000)) for _ in range(2))
    large = min(cpu_seconds(engine, shape(8000)) for _ in range(2))
    # 8x the input: linear is ~8x; the quadratic rules took 40-60x (0.06 s -> 4 s)
    assert large < 20 * max(small, 0.005), (small, large)
    assert large < 2.0, f"8,000 on Wasm took {large:.2f} s of CPU"


def test_regopy_gets_tighter_input_limits(tmp_path: Any) -> None:
    # regopy cannot be interrupted and scans objects on lookup (its cost grows faster than its
    # input): the gate bounds what it is given instead.
    from headwater.catalog import open_store
    from headwater.policies.gate import Gate, GateLimits

    store = open_store("embedded", path=tmp_path / "headwater.db")
    try:
        assert Gate(store, EmbeddedEngine(opa=None)).limits == GateLimits()
        limits = Gate(store, EmbeddedEngine(wasm=False)).limits
        assert (limits.max_datasets, limits.max_flows, limits.max_fields) == (100, 500, 5000)
    finally:
        store.close()


def test_a_runaway_wasm_evaluation_is_stopped_at_the_timeout() -> None:
    engine = EmbeddedEngine(opa=None, timeout=0.3)
    huge = many_flows(40_000)  # ~2-3 s of evaluation
    started = time.monotonic()
    with pytest.raises(PolicyTimeout, match="0.3 s timeout"):
        engine.evaluate(DECISION, huge)
    assert time.monotonic() - started < 1.5
    # The engine is fine afterwards (the interrupted instance was thrown away).
    assert engine.evaluate(DECISION, many_flows(2))["decision"] == "deny"


def test_a_slow_evaluation_holds_no_other_caller_up() -> None:
    engine = EmbeddedEngine(opa=None, timeout=0.5)
    huge = many_flows(40_000)
    outcomes: list[str] = []

    def slow() -> None:
        try:
            engine.evaluate(DECISION, huge)
            outcomes.append("finished")
        except PolicyTimeout:
            outcomes.append("timed out")

    threads = [threading.Thread(target=slow) for _ in range(3)]  # more than the instances
    for t in threads:
        t.start()
    time.sleep(0.1)
    waited = []
    for _ in range(5):
        started = time.monotonic()
        with contextlib.suppress(PolicyTimeout):  # every instance busy: refused at the timeout
            engine.evaluate(DECISION, many_flows(2))
        waited.append(time.monotonic() - started)
    for t in threads:
        t.join()
    assert outcomes == ["timed out"] * 3
    assert max(waited) < 0.5 + 0.5, waited


def test_regopy_is_waited_on_at_most_the_timeout() -> None:
    engine = EmbeddedEngine(wasm=False, timeout=0.3)
    engine.evaluate(DECISION, many_inputs(2))  # compiled outside the timing
    started = time.monotonic()
    with pytest.raises(PolicyTimeout, match="regopy"):
        engine.evaluate(DECISION, many_flows(300))  # ~2 s on regopy
    assert time.monotonic() - started < 0.8
    # Queued behind the running one: refused at its own timeout, not when that finishes.
    started = time.monotonic()
    with pytest.raises(PolicyTimeout):
        engine.evaluate(DECISION, many_inputs(2))
    assert time.monotonic() - started < 0.8


@pytest.fixture(scope="module")
def stock_opa() -> Iterator[str]:
    service = start_opa(str(BUNDLE))
    yield service.url
    service.stop()


def test_an_opa_server_is_waited_on_at_most_the_timeout(stock_opa: str) -> None:
    engine = OpaEngine(stock_opa, timeout=0.3)
    huge = many_flows(40_000)  # several seconds of evaluation in OPA
    started = time.monotonic()
    json.dumps({"input": huge})  # what the client does before sending (~1 s for 28 MB)
    encoding = time.monotonic() - started
    started = time.monotonic()
    with pytest.raises(PolicyTimeout, match="0.3 s timeout"):
        engine.evaluate(DECISION, huge)
    assert time.monotonic() - started < 2 * encoding + 0.3 + 1


def test_the_policy_costs_time_linear_in_its_input_on_an_opa_server(stock_opa: str) -> None:
    engine = OpaEngine(stock_opa, timeout=60)
    engine.evaluate(DECISION, many_inputs(100))

    def wall(doc: dict[str, Any]) -> float:
        started = time.monotonic()
        engine.evaluate(DECISION, doc)
        return time.monotonic() - started

    small = min(wall(many_flows(1000)) for _ in range(2))
    large = min(wall(many_flows(8000)) for _ in range(2))
    assert large < 20 * max(small, 0.01), (small, large)
