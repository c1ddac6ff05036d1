"""OPA's own compiler, evaluated in-process: the bundle compiled to WebAssembly by ``opa build
-t wasm`` and run with wasmtime, through OPA's Wasm ABI (1.2+, the one-call ``opa_eval``).

OPA's semantics (as its Wasm target implements them) at a few milliseconds an evaluation, where
regopy (an interpreter) takes ~90 ms on a large gate input. The compiled module leaves a few
builtins to the host; the ones our bundle and typical rules need are in ``HOST_BUILTINS``.
"""

from __future__ import annotations

import ctypes
import math
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

PAGE = 65536


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


class WasmPolicyError(RuntimeError):
    """The module cannot be built, loaded or evaluated; the message says why."""


class WasmTimeout(WasmPolicyError):
    """The evaluation did not finish (or could not start) before its deadline, and was stopped."""


EPOCH_TICK = 0.01  # seconds: how often the epoch advances while an evaluation runs
KEEP_MEMORY = 64 * 1024 * 1024  # an instance whose memory grew past this is dropped after use
_FOREVER = 2**62  # epoch ticks: no deadline


class _Ticker:
    """Advances the engine's epoch every EPOCH_TICK while at least one evaluation runs (and
    sleeps otherwise): wasmtime checks a store's epoch deadline at function entries and loop
    heads, and traps once it has passed, so a runaway evaluation stops within a tick of it."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine
        self._running = 0
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> None:
        with self._cond:
            self._running += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="wasm-epoch",
                                                daemon=True)
                self._thread.start()
            self._cond.notify()

    def __exit__(self, *_exc: object) -> None:
        with self._cond:
            self._running -= 1

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._running:
                    self._cond.wait()
            time.sleep(EPOCH_TICK)
            self._engine.increment_epoch()


class _Instance:
    """One instance of the module in its own store and memory: one evaluation at a time."""

    def __init__(self, policy: WasmPolicy) -> None:
        wasmtime = policy._wasmtime
        self._wasmtime = wasmtime
        self._store = wasmtime.Store(policy._engine)
        self._store.set_epoch_deadline(_FOREVER)
        module = policy._module
        imports = {i.name: i.type for i in module.imports
                   if isinstance(i.type, wasmtime.FuncType)}
        self._memory = wasmtime.Memory(self._store,
                                       wasmtime.MemoryType(wasmtime.Limits(16, None)))
        self._builtins: dict[int, Callable[..., Any]] = {}

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
        self._data = self._parse(policy._data)
        self._heap = self._call("opa_heap_ptr_get")  # evaluations start here, every time

    def evaluate(self, entrypoint_id: int, raw: bytes, deadline: float | None) -> Any:
        self._ensure(self._heap + len(raw) + PAGE)
        self._write(raw, self._heap)
        if deadline is None:
            self._store.set_epoch_deadline(_FOREVER)
        else:
            ticks = math.ceil(max(deadline - time.monotonic(), 0.0) / EPOCH_TICK)
            self._store.set_epoch_deadline(max(ticks, 1))
        # format 0: the answer as JSON text; the heap restarts after the input
        result = self._call("opa_eval", 0, entrypoint_id, self._data, self._heap, len(raw),
                            self._heap + len(raw), 0)
        return orjson.loads(self._cstring(result))

    def memory_bytes(self) -> int:
        return int(self._memory.data_len(self._store))

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


class WasmPolicy:
    """One compiled module and a few instances of it (each its own store and heap), so that a
    slow evaluation holds one instance, not every caller. Each evaluation may have a deadline:
    past it wasmtime stops the module (epoch interruption) and the instance is thrown away."""

    def __init__(self, wasm: bytes, data: Any, instances: int = 2) -> None:
        import wasmtime

        self._wasmtime = wasmtime
        config = wasmtime.Config()
        config.epoch_interruption = True
        self._engine = wasmtime.Engine(config)
        self._module = wasmtime.Module(self._engine, wasm)
        self._data = orjson.dumps(data)
        self._ticker = _Ticker(self._engine)
        first = _Instance(self)  # checks the ABI and the builtins
        self.entrypoints = first.entrypoints
        self._idle: list[_Instance] = [first]
        self._made = 1
        self._most = max(1, instances)
        self._cond = threading.Condition()

    def evaluate(self, entrypoint: str, input: Any, timeout: float | None = None) -> Any:
        """The entrypoint's value for ``input``; WasmPolicyError when it has none, WasmTimeout
        when no instance was free or the evaluation ran past ``timeout`` seconds (waiting for
        an instance counts)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            entrypoint_id = self.entrypoints[entrypoint]
        except KeyError:
            raise WasmPolicyError(f"the compiled policy has no entrypoint {entrypoint}") from None
        raw = orjson.dumps(input)
        instance = self._acquire(deadline, timeout)
        keep = False
        try:
            with self._ticker:
                answer = instance.evaluate(entrypoint_id, raw, deadline)
            keep = instance.memory_bytes() <= KEEP_MEMORY
        except self._wasmtime.Trap as exc:
            if exc.trap_code == self._wasmtime.TrapCode.INTERRUPT:
                raise WasmTimeout(f"the policy evaluation ran past the {timeout:g} s timeout "
                                  "and was stopped") from exc
            raise WasmPolicyError(str(exc).splitlines()[0]) from exc
        except self._wasmtime.WasmtimeError as exc:  # a host builtin that raised
            raise WasmPolicyError(str(exc).splitlines()[0]) from exc
        finally:
            self._release(instance if keep else None)
        if not answer:
            raise WasmPolicyError(f"{entrypoint} is undefined for this input")
        return answer[0]["result"]

    def _acquire(self, deadline: float | None, timeout: float | None) -> _Instance:
        with self._cond:
            while not self._idle and self._made >= self._most:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise WasmTimeout(f"every policy instance stayed busy past the {timeout:g} s "
                                      "timeout")
                self._cond.wait(remaining)
            if self._idle:
                return self._idle.pop()
            self._made += 1
        try:
            return _Instance(self)
        except BaseException:
            self._release(None)
            raise

    def _release(self, instance: _Instance | None) -> None:
        """Back to the pool; None: the instance is gone (trapped, or grown too big)."""
        with self._cond:
            if instance is None:
                self._made -= 1
            else:
                self._idle.append(instance)
            self._cond.notify()


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
