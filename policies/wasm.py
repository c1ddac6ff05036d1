"""OPA's own compiler, evaluated in-process: the bundle compiled to WebAssembly by ``opa build
-t wasm`` and run with wasmtime, through OPA's Wasm ABI (1.2+, the one-call ``opa_eval``).

OPA's semantics (as its Wasm target implements them) at a few milliseconds an evaluation, where
regopy (an interpreter) takes ~90 ms on a large gate input. The compiled module leaves a few
builtins to the host; the ones our bundle and typical rules need are in ``HOST_BUILTINS``.
"""

from __future__ import annotations

import ctypes
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

PAGE = 65536


class WasmPolicyError(RuntimeError):
    """The module cannot be built, loaded or evaluated; the message says why."""


_VERB = re.compile(r"%([-+ #0]*\d*(?:\.\d+)?)([sdvfegq%])")


def _go_sprintf(fmt: str, args: list[Any]) -> str:
    """Go's fmt verbs as Rego uses them: %s %d %v %f %q %% (with flags and width)."""
    values = iter(args)

    def text(v: Any) -> str:
        return v if isinstance(v, str) else orjson.dumps(v).decode()

    def verb(m: re.Match[str]) -> str:
        spec, kind = m.group(1), m.group(2)
        if kind == "%":
            return "%"
        try:
            v = next(values)
        except StopIteration:
            return f"%!{kind}(MISSING)"
        if kind == "d" and isinstance(v, (int, float)) and float(v).is_integer():
            return ("%" + spec + "d") % int(v)
        if kind in "feg" and isinstance(v, (int, float)):
            return ("%" + spec + kind) % v
        if kind == "q":
            return orjson.dumps(text(v)).decode()
        return ("%" + spec + "s") % text(v)

    return _VERB.sub(verb, fmt)


HOST_BUILTINS: dict[str, Callable[..., Any]] = {
    "sprintf": _go_sprintf,
    "time.now_ns": time.time_ns,
}


class WasmPolicy:
    """One compiled module, one instance; evaluations are serialised (the heap is shared)."""

    def __init__(self, wasm: bytes, data: Any) -> None:
        import wasmtime

        self._wasmtime = wasmtime
        self._engine = wasmtime.Engine()
        self._store = wasmtime.Store(self._engine)
        module = wasmtime.Module(self._engine, wasm)
        imports = {i.name: i.type for i in module.imports
                   if isinstance(i.type, wasmtime.FuncType)}
        self._memory = wasmtime.Memory(self._store,
                                       wasmtime.MemoryType(wasmtime.Limits(16, None)))

        def builtin(arity: int) -> Any:
            def call(builtin_id: int, _ctx: int, *arg_addrs: int) -> int:
                fn = self._builtins[builtin_id]
                result = fn(*(self._load(a) for a in arg_addrs[:arity]))
                return self._parse(orjson.dumps(result))
            return wasmtime.Func(self._store, imports[f"opa_builtin{arity}"], call)

        def abort(addr: int) -> None:
            raise WasmPolicyError(f"policy aborted: {self._cstring(addr).decode(errors='replace')}")

        externs = {f"opa_builtin{n}": builtin(n) for n in range(5)}
        externs["opa_abort"] = wasmtime.Func(self._store, imports["opa_abort"], abort)
        externs["memory"] = self._memory
        if "opa_println" in imports:
            externs["opa_println"] = wasmtime.Func(self._store, imports["opa_println"],
                                                   lambda _addr: None)
        instance = wasmtime.Instance(self._store, module,
                                     [externs[i.name or ""] for i in module.imports])
        exports = instance.exports(self._store)
        self._funcs = {n: f for n, f in exports.items() if isinstance(f, wasmtime.Func)}
        self._globals = {n: g for n, g in exports.items() if isinstance(g, wasmtime.Global)}
        version = (self._global("opa_wasm_abi_version"), self._global("opa_wasm_abi_minor_version"))
        if version < (1, 2):
            raise WasmPolicyError(f"Wasm ABI {version[0]}.{version[1]} has no one-call eval "
                                  "(1.2+ needed): rebuild with a newer opa")
        self.entrypoints: dict[str, int] = self._load(self._call("entrypoints"))
        wanted: dict[str, int] = self._load(self._call("builtins"))
        if missing := sorted(set(wanted) - set(HOST_BUILTINS)):
            raise WasmPolicyError(f"the policy calls {', '.join(missing)}, which the Wasm "
                                  "module leaves to the host and Headwater does not provide")
        self._builtins = {i: HOST_BUILTINS[name] for name, i in wanted.items()}
        self._data = self._parse(orjson.dumps(data))
        self._heap = self._call("opa_heap_ptr_get")  # evaluations start here, every time
        self._lock = threading.Lock()

    def evaluate(self, entrypoint: str, input: Any) -> Any:
        """The entrypoint's value for ``input``; WasmPolicyError when it has none."""
        try:
            entrypoint_id = self.entrypoints[entrypoint]
        except KeyError:
            raise WasmPolicyError(f"the compiled policy has no entrypoint {entrypoint}") from None
        raw = orjson.dumps(input)
        with self._lock:
            self._ensure(self._heap + len(raw) + PAGE)
            self._write(raw, self._heap)
            try:  # format 0: the answer as JSON text; the heap restarts after the input
                result = self._call("opa_eval", 0, entrypoint_id, self._data, self._heap,
                                    len(raw), self._heap + len(raw), 0)
            except (self._wasmtime.Trap, self._wasmtime.WasmtimeError) as exc:
                # a trap, or a host builtin that raised
                raise WasmPolicyError(str(exc).splitlines()[0]) from exc
            answer = orjson.loads(self._cstring(result))
        if not answer:
            raise WasmPolicyError(f"{entrypoint} is undefined for this input")
        return answer[0]["result"]

    # -- the ABI's plumbing

    def _call(self, name: str, *args: int) -> Any:
        return self._funcs[name](self._store, *args)

    def _global(self, name: str) -> int:
        return int(self._globals[name].value(self._store))

    def _ensure(self, end: int) -> None:
        size = self._memory.data_len(self._store)
        if end > size:
            self._memory.grow(self._store, (end - size + PAGE - 1) // PAGE)

    def _base(self) -> int:
        return ctypes.addressof(self._memory.data_ptr(self._store).contents)

    def _cstring(self, addr: int) -> bytes:
        return ctypes.string_at(self._base() + addr)

    def _write(self, raw: bytes, addr: int) -> None:
        ctypes.memmove(self._base() + addr, raw, len(raw))

    def _parse(self, raw: bytes) -> int:
        addr = self._call("opa_malloc", len(raw))
        self._write(raw, addr)
        value = self._call("opa_json_parse", addr, len(raw))
        if not value:
            raise WasmPolicyError("the policy could not parse a JSON value")
        return value

    def _load(self, addr: int) -> Any:
        return orjson.loads(self._cstring(self._call("opa_json_dump", addr)))


def compile_bundle(opa: str, bundle: Path, entrypoints: tuple[str, ...]) -> bytes:
    """``opa build -t wasm`` of the bundle's modules: the policy.wasm it produces."""
    import subprocess
    import tarfile
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bundle.tar.gz"
        cmd = [opa, "build", "-t", "wasm", "-o", str(out), "--ignore", "*_test.rego",
               "--ignore", "data.json"]
        for e in entrypoints:
            cmd += ["-e", e]
        # Built from inside the bundle: the module embeds the file names (in error locations),
        # so relative ones make it the same wherever the bundle lives.
        done = subprocess.run([*cmd, "."], cwd=bundle, capture_output=True, text=True,
                              timeout=300)
        if done.returncode:
            raise WasmPolicyError(f"opa build -t wasm failed: {done.stderr.strip()}")
        with tarfile.open(out) as tar:
            for member in tar.getmembers():
                if member.name.lstrip("/") == "policy.wasm" and (f := tar.extractfile(member)):
                    return f.read()
        raise WasmPolicyError("opa build -t wasm produced no policy.wasm")
