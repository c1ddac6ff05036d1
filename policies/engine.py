"""Policy engines: one Rego bundle (``policies/rego``), two ways to evaluate it.

``opa``: a running OPA server (opa-python-client loads the bundle and checks health; decisions
are posted to its data API directly, see ``OpaEngine``); Headwater can push the bundle to it at
start, or OPA can load the directory itself (``opa run --server policies/rego``).
``embedded``: in-process, so the default install needs no server: the bundle compiled to Wasm by
OPA (shipped in ``policies/compiled``), and regopy (a Rego v1 interpreter) for anything the
module does not cover or when the modules changed since it was built (and no opa can rebuild
it). Both kinds return the same documents for the same input; the tests hold them to it.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import logging
import os
import shutil
import threading
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

import orjson
import urllib3

from headwater.policies.wasm import WasmPolicy, WasmPolicyError, WasmTimeout, compile_bundle

BUNDLE = Path(__file__).parent / "rego"
COMPILED = Path(__file__).parent / "compiled"  # `make policy-wasm` writes it
log = logging.getLogger(__name__)
JSON_HEADERS = {"Content-Type": "application/json"}
ENTRYPOINTS = ("headwater/gate/decision", "headwater/erasure/decision", "headwater/erasure/plan")


class PolicyEngineUnavailable(RuntimeError):
    """The engine could not answer (down, too slow, or answered garbage): callers fail closed."""


class PolicyTimeout(PolicyEngineUnavailable):
    """The evaluation ran past the engine's timeout and was stopped (or, on regopy, abandoned)."""


def bundle_files(bundle: Path = BUNDLE) -> tuple[list[Path], Path]:
    modules = sorted(p for p in bundle.glob("*.rego") if not p.name.endswith("_test.rego"))
    return modules, bundle / "data.json"


def _digest(files: list[Path]) -> str:
    h = hashlib.sha256()
    for p in files:
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    return "sha256:" + h.hexdigest()


def bundle_revision(bundle: Path = BUNDLE) -> str:
    """A digest of the policies and their data: which rules made a decision."""
    modules, data = bundle_files(bundle)
    return _digest([*modules, data])[:len("sha256:") + 16]


def modules_digest(bundle: Path = BUNDLE) -> str:
    """A digest of the policy modules alone: what a compiled module was built from (the data
    is handed to it at load, so knob changes need no recompiling)."""
    return _digest(bundle_files(bundle)[0])


class PolicyEngine(Protocol):
    kind: str

    def evaluate(self, path: str, input: dict[str, Any]) -> Any:
        """The document at ``path`` (e.g. ``headwater/gate/decision``) for ``input``."""
        ...

    def revision(self) -> str: ...

    def ping(self) -> None: ...


class _Regopy:
    """regopy, a Rego v1 interpreter: any document of the bundle, ~40x slower than the Wasm
    module on a large gate input. Used for what the module does not compile.

    regopy cannot be interrupted. Evaluations run one at a time on a thread of their own and
    the caller waits at most the timeout: past it the caller gets PolicyTimeout while the
    evaluation finishes in the background (the gate's input caps bound how long that is), and
    callers queued behind it time out too rather than wait."""

    def __init__(self, bundle: Path) -> None:
        import regopy

        self._regopy = regopy
        modules, data = bundle_files(bundle)
        self._interpreter = regopy.Interpreter()
        for p in modules:
            self._interpreter.add_module(p.name, p.read_text())
        self._interpreter.add_data_json(data.read_text())
        # Compiled once; each evaluation then only binds the input.
        self._bundle_compiled = self._interpreter.build(None, ENTRYPOINTS)
        # one interpreter, one evaluation at a time, always on the same thread
        self._worker = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="regopy")

    def evaluate(self, path: str, input: dict[str, Any], timeout: float | None = None) -> Any:
        future = self._worker.submit(self._evaluate, path, input)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()  # when still queued; a running one cannot be stopped
            raise PolicyTimeout(f"the policy evaluation (regopy) ran past the {timeout:g} s "
                                "timeout; the policy was not applied") from None

    def _evaluate(self, path: str, input: dict[str, Any]) -> Any:
        query = "data." + path.replace("/", ".")
        try:
            # Built node by node: 3-4x faster than set_input_term, which parses the JSON
            # text as a Rego term (~150 ms for a 5x5x20 gate input).
            self._interpreter.set_input(self._regopy.Input(input))
            output = (self._interpreter.query_bundle_entrypoint(self._bundle_compiled, path)
                      if path in ENTRYPOINTS else self._interpreter.query(query))
        except self._regopy.RegoError as exc:
            raise PolicyEngineUnavailable(f"embedded Rego evaluation failed: {exc}") from exc
        try:
            return orjson.loads(str(output))["expressions"][0]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise PolicyEngineUnavailable(f"embedded engine gave no value for {query}") from exc


def compiled_policy(bundle: Path = BUNDLE, compiled: Path = COMPILED,
                    opa: str | None = None) -> bytes | None:
    """The bundle's Wasm module: the shipped one when it was built from these very modules,
    else one compiled now with ``opa`` (a binary path) when given, else None."""
    manifest = compiled / "policy.json"
    if manifest.exists() and (compiled / "policy.wasm").exists():
        built = orjson.loads(manifest.read_bytes())
        if built.get("modules") == modules_digest(bundle) and built.get(
                "entrypoints") == list(ENTRYPOINTS):
            return (compiled / "policy.wasm").read_bytes()
    if opa:
        try:
            return compile_bundle(opa, bundle, ENTRYPOINTS)
        except WasmPolicyError as exc:
            log.warning("%s", exc)
    return None


def write_compiled(opa: str, bundle: Path = BUNDLE, compiled: Path = COMPILED) -> Path:
    """Compile the bundle with ``opa`` into ``compiled/policy.wasm``, with what it was built
    from beside it (``policy.json``), so the embedded engine knows when it is stale."""
    module = compile_bundle(opa, bundle, ENTRYPOINTS)
    compiled.mkdir(parents=True, exist_ok=True)
    (compiled / "policy.wasm").write_bytes(module)
    (compiled / "policy.json").write_bytes(orjson.dumps(
        {"modules": modules_digest(bundle), "entrypoints": list(ENTRYPOINTS)},
        option=orjson.OPT_INDENT_2) + b"\n")
    return compiled / "policy.wasm"


class EmbeddedEngine:
    """In-process: the bundle's Wasm module (compiled by OPA itself) for the entry points,
    regopy for anything else, or for everything when no current module is at hand."""

    kind = "embedded"

    def __init__(self, bundle: Path = BUNDLE, compiled: Path = COMPILED,
                 opa: str | None = "opa", wasm: bool = True, timeout: float | None = None
                 ) -> None:
        """``opa``: a binary (name on PATH or path) to recompile the bundle with when the shipped
        module is stale; None never compiles. ``wasm=False``: regopy only. ``timeout``: seconds
        an evaluation may take (waiting for a free instance included) before it is stopped
        and PolicyTimeout raised; None: no limit."""
        self._bundle = bundle
        self._revision = bundle_revision(bundle)
        self.timeout = timeout
        self._wasm: WasmPolicy | None = None
        self._regopy: _Regopy | None = None
        self._regopy_lock = threading.Lock()
        if wasm:
            self._wasm = self._load_wasm(bundle, compiled, shutil.which(opa) if opa else None)
        self.evaluator = "wasm" if self._wasm else "regopy"

    @staticmethod
    def _load_wasm(bundle: Path, compiled: Path, opa: str | None) -> WasmPolicy | None:
        module = compiled_policy(bundle, compiled, opa)
        if module is None:
            log.warning("%s was not built from the modules in %s, and no opa binary could "
                        "rebuild it: the embedded engine falls back to regopy, ~40x slower. "
                        "Run `headwater policy compile` (needs opa).", compiled / "policy.wasm",
                        bundle)
            return None
        try:
            return WasmPolicy(module, orjson.loads(bundle_files(bundle)[1].read_bytes()),
                              instances=max(2, min(4, os.cpu_count() or 2)))
        except WasmPolicyError as exc:
            log.warning("the compiled policy cannot run in-process (%s): the embedded engine "
                        "falls back to regopy, ~40x slower", exc)
            return None

    def evaluate(self, path: str, input: dict[str, Any]) -> Any:
        path = path.strip("/")
        if self._wasm and path in self._wasm.entrypoints:
            try:
                return self._wasm.evaluate(path, input, self.timeout)
            except WasmTimeout as exc:
                raise PolicyTimeout(f"{exc}; the policy was not applied") from exc
            except WasmPolicyError as exc:
                raise PolicyEngineUnavailable(f"embedded Wasm evaluation failed: {exc}") from exc
        with self._regopy_lock:
            if self._regopy is None:
                self._regopy = _Regopy(self._bundle)
        return self._regopy.evaluate(path, input, self.timeout)

    def revision(self) -> str:
        return self._revision

    def ping(self) -> None:
        self.evaluate("headwater/erasure/decision", {"dataset": {"tags": []}})


class OpaEngine:
    kind = "opa"

    def __init__(self, url: str, timeout: float = 2.0, bundle: Path = BUNDLE) -> None:
        from opa_client import OpaClient

        parsed = urlparse(url)
        self.url = url
        self.timeout = timeout
        self._bundle = bundle
        self._client = OpaClient(host=parsed.hostname or "127.0.0.1",
                                 port=parsed.port or (443 if parsed.scheme == "https" else 80),
                                 ssl=parsed.scheme == "https", timeout=timeout,
                                 retries=0)  # fail fast: the gate decides what a failure means
        # Decisions are posted on a connection pool of their own with the body encoded by
        # orjson: the client's query_rule encodes with the json module, ~3 ms of a gate
        # decision's ~10 ms for a 50 KB input document, and a requests session spends ~0.7 ms
        # of CPU per request that urllib3 (beneath it) does not. The client keeps the rest
        # (bundle, health). No retries: the gate decides what a failure means.
        self._decisions = urllib3.connection_from_url(
            url, maxsize=8, block=False, retries=False,
            timeout=urllib3.Timeout(connect=timeout, read=timeout))
        self._data_path = urlparse(self._client.root_url).path + "/data/"
        self._revision = bundle_revision(bundle)

    def push_bundle(self) -> None:
        """Load the bundle's policies and data into the server (for an OPA that was not
        started on the directory)."""
        modules, data = bundle_files(self._bundle)
        try:
            for p in modules:
                self._client.update_policy_from_string(p.read_text(), f"headwater/{p.stem}")
            for key, value in orjson.loads(data.read_bytes())["headwater"].items():
                self._client.update_or_create_data(value, f"headwater/{key}")
        except Exception as exc:  # the client raises its own and requests' errors
            raise PolicyEngineUnavailable(f"could not load the bundle into OPA at {self.url}: "
                                          f"{exc}") from exc

    def evaluate(self, path: str, input: dict[str, Any]) -> Any:
        try:
            response = self._decisions.urlopen(
                "POST", self._data_path + path.strip("/"), body=orjson.dumps({"input": input}),
                headers=JSON_HEADERS)
            if response.status >= 400:
                raise PolicyEngineUnavailable(f"HTTP {response.status} {response.reason}: "
                                              f"{response.data[:200]!r}")
            answer = orjson.loads(response.data)
        except Exception as exc:
            if isinstance(exc, urllib3.exceptions.TimeoutError):
                raise PolicyTimeout(f"OPA at {self.url} did not answer within the "
                                    f"{self.timeout:g} s timeout; the policy was not applied"
                                    ) from exc
            raise PolicyEngineUnavailable(f"OPA at {self.url} did not answer: {exc}") from exc
        if not isinstance(answer, dict) or "result" not in answer:
            raise PolicyEngineUnavailable(f"OPA at {self.url} has no {path} (bundle not loaded?)")
        return answer["result"]

    def revision(self) -> str:
        return self._revision

    def ping(self) -> None:
        try:
            healthy = self._client.check_health()
        except Exception as exc:
            raise PolicyEngineUnavailable(f"OPA at {self.url} is unreachable: {exc}") from exc
        if not healthy:
            raise PolicyEngineUnavailable(f"OPA at {self.url} reports unhealthy")


def open_engine(kind: str, *, url: str | None = None, timeout: float = 2.0,
                push_bundle: bool = False) -> PolicyEngine:
    if kind == "embedded":
        return EmbeddedEngine(timeout=timeout)
    if kind == "opa":
        engine = OpaEngine(url or "http://127.0.0.1:8181", timeout=timeout)
        if push_bundle:
            engine.push_bundle()
        return engine
    raise ValueError(f"unknown policy engine {kind!r}: choose 'embedded' or 'opa'")
