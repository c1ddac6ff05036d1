"""The embedded engine's Wasm module: built from the shipped modules, rebuilt or replaced by
regopy when they change, and the host builtins the module leaves to Headwater."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from headwater.policies.engine import (
    BUNDLE,
    COMPILED,
    ENTRYPOINTS,
    EmbeddedEngine,
    PolicyEngineUnavailable,
    compiled_policy,
    write_compiled,
)
from headwater.policies.wasm import WasmPolicy, WasmPolicyError, _go_sprintf, compile_bundle
from tests.harness.services import opa_binary
from tests.policies.test_engines import CASES, normalised

QUALITY = {"job": {"namespace": "etl", "name": "j", "tags": []}, "context": {},
           "inputs": [CASES["quality"][0]["inputs"][0]], "outputs": [], "flows": []}


def test_the_shipped_module_is_what_the_pinned_opa_builds_from_the_modules() -> None:
    shipped = compiled_policy(opa=None)
    assert shipped is not None, "policies/rego changed: run `make policy-wasm`"
    assert shipped == compile_bundle(str(opa_binary()), BUNDLE, ENTRYPOINTS), (
        "policies/compiled/policy.wasm is stale: run `make policy-wasm`")


@pytest.fixture
def edited_bundle(tmp_path: Path) -> Path:
    """A copy of the bundle whose quality rule says something else."""
    bundle = tmp_path / "rego"
    shutil.copytree(BUNDLE, bundle)
    rule = bundle / "quality.rego"
    rule.write_text(rule.read_text().replace(" failed its latest quality checks: ",
                                             " is failing: "))
    return bundle


def test_edited_modules_are_recompiled_when_opa_is_at_hand(edited_bundle: Path) -> None:
    engine = EmbeddedEngine(bundle=edited_bundle, opa=str(opa_binary()))
    assert engine.evaluator == "wasm"
    reason = engine.evaluate("headwater/gate/decision", QUALITY)["reasons"][0]
    assert reason["message"] == "dataset:pg:a is failing: not_null(id)"


def test_edited_modules_fall_back_to_regopy_without_opa(
        edited_bundle: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        engine = EmbeddedEngine(bundle=edited_bundle, opa=None)
    assert engine.evaluator == "regopy"
    assert "headwater policy compile" in caplog.text
    reason = engine.evaluate("headwater/gate/decision", QUALITY)["reasons"][0]
    assert reason["message"] == "dataset:pg:a is failing: not_null(id)"


def test_a_compiled_module_is_found_again_after_policy_compile(edited_bundle: Path,
                                                               tmp_path: Path) -> None:
    compiled = tmp_path / "compiled"
    write_compiled(str(opa_binary()), edited_bundle, compiled)
    engine = EmbeddedEngine(bundle=edited_bundle, compiled=compiled, opa=None)
    assert engine.evaluator == "wasm"
    assert compiled_policy(BUNDLE, compiled, opa=None) is None  # not built from these modules


def test_a_module_needing_a_builtin_headwater_lacks_falls_back_to_regopy(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    bundle = tmp_path / "rego"
    shutil.copytree(BUNDLE, bundle)
    rule = bundle / "quality.rego"
    rule.write_text(rule.read_text() + '\nreasons contains {"rule": "size", "severity": "warn", '
                    '"dataset": null, "field": null, "message": "too big"} if {\n'
                    '\tinput.bytes > units.parse_bytes("1KB")\n}\n')
    module = compile_bundle(str(opa_binary()), bundle, ENTRYPOINTS)
    with pytest.raises(WasmPolicyError, match="units.parse_bytes"):
        WasmPolicy(module, {})
    with caplog.at_level(logging.WARNING):
        engine = EmbeddedEngine(bundle=bundle, compiled=COMPILED, opa=str(opa_binary()))
    assert engine.evaluator == "regopy" and "units.parse_bytes" in caplog.text
    given, expected = CASES["mask"]
    assert normalised(engine.evaluate("headwater/gate/decision", given)) == expected


def test_an_undefined_entrypoint_is_unavailable_not_an_empty_decision() -> None:
    engine = EmbeddedEngine(opa=None)
    with pytest.raises(PolicyEngineUnavailable, match="erasure/decision is undefined"):
        engine.evaluate("headwater/erasure/decision", {})  # no dataset: no decision


def test_large_inputs_grow_the_module_memory() -> None:
    given, expected = CASES["mask"]
    big = {**given, "job": {**given["job"], "tags": [f"t{i:06}" for i in range(100_000)]}}
    engine = EmbeddedEngine(opa=None)
    assert normalised(engine.evaluate("headwater/gate/decision", big)) == expected
    assert normalised(engine.evaluate("headwater/gate/decision", given)) == expected


@pytest.mark.parametrize(("fmt", "args", "text"), [
    ("%s keeps data %d days", ["dataset:a", 90], "dataset:a keeps data 90 days"),
    ("%v and %v", [[1, "x"], {"a": True}], '[1,"x"] and {"a":true}'),
    ("%q, %.2f, %5d|, 100%%", ["say \"hi\"", 2.5, 42], '"say \\"hi\\"", 2.50,    42|, 100%'),
    ("%s and %s", ["one"], "one and %!s(MISSING)"),
])
def test_sprintf_as_go_formats(fmt: str, args: list, text: str) -> None:
    assert _go_sprintf(fmt, args) == text


def test_a_runtime_error_is_reported_and_the_next_evaluation_is_clean(tmp_path: Path) -> None:
    (tmp_path / "clash.rego").write_text(
        "package t\n\nx := 1 if input.a\n\nx := 2 if input.b\n\ndecision := {\"x\": x}\n")
    policy = WasmPolicy(compile_bundle(str(opa_binary()), tmp_path, ("t/decision",)), {})
    assert policy.evaluate("t/decision", {"a": True}) == {"x": 1}
    with pytest.raises(WasmPolicyError, match="var assignment conflict"):
        policy.evaluate("t/decision", {"a": True, "b": True})
    assert policy.evaluate("t/decision", {"b": True}) == {"x": 2}


def test_concurrent_evaluations_each_get_their_own_answer() -> None:
    from concurrent.futures import ThreadPoolExecutor

    engine = EmbeddedEngine(opa=None)
    cases = sorted(CASES.items()) * 10

    def decide(case: tuple[str, tuple]) -> bool:
        given, expected = case[1]
        return normalised(engine.evaluate("headwater/gate/decision", given)) == normalised(expected)

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(decide, cases))


def test_policy_compile_without_opa_says_how_to_get_it(tmp_path: Path) -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "headwater", "policy", "compile", "--opa",
                           str(tmp_path / "no-such-opa")], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1
    assert "no opa binary" in done.stderr and "--opa PATH" in done.stderr
    assert compiled_policy(opa=None) is not None  # the shipped module is untouched
