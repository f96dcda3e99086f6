"""What a fit spends on compilation, measured: seconds, programs compiled, programs loaded from the cache.

A trial's first epoch is dominated by turning its Python steps into programs (BENCHMARKS.md: 39 s
against 0.3 s for later epochs on an H200). :func:`totals` counts that for this process, from the
backend's own instruments:

* **JAX**: ``jax.monitoring`` events. Every program JAX runs is traced (``jaxpr_trace_duration``),
  lowered to StableHLO (``jaxpr_to_mlir_module_duration``) and then compiled by XLA or, with the
  persistent compilation cache on, loaded from it (``backend_compile_duration`` covers either;
  ``/jax/compilation_cache/cache_hits`` counts the loads). *Compiled* = backend compilations that
  were not cache hits; *cached* = cache hits; seconds = tracing + lowering + compiling or loading.
  A program JAX finds in its in-memory cache (the same function called again with the same shapes)
  costs nothing and counts nowhere.
* **TensorFlow**: every ``tf.function`` graph that is traced (counted by a guarded wrap of
  TensorFlow's tracer; its build time from TensorFlow's own counter
  ``/tensorflow/core/tf_function/graph_building_time_usecs``). TensorFlow cannot keep traced graphs
  between processes, so *cached* is always 0 there. XLA compilations of a ``jit_compile`` step (GPUs)
  happen inside TensorFlow's C++ runtime and are not counted.

:class:`CompileMeter` reads the difference from a starting point, so one fit's figures do not include
the programs an earlier fit of the same process compiled. Units: seconds (wall clock), counts.
"""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass

__all__ = ["CompileStats", "CompileMeter", "totals"]


@dataclass(frozen=True)
class CompileStats:
    """Compilation work: ``seconds`` (tracing, lowering, compiling or loading compiled programs; wall
    clock), ``compiled`` (programs compiled, i.e. persistent-cache misses) and ``cached`` (programs
    loaded from the persistent compilation cache)."""

    seconds: float = 0.0
    compiled: int = 0
    cached: int = 0

    def __add__(self, other: "CompileStats") -> "CompileStats":
        return CompileStats(self.seconds + other.seconds, self.compiled + other.compiled, self.cached + other.cached)

    def __sub__(self, other: "CompileStats") -> "CompileStats":
        return CompileStats(self.seconds - other.seconds, self.compiled - other.compiled, self.cached - other.cached)

    def as_record(self) -> dict:
        """The keys a fit's epoch record carries: ``compile_s``, ``compiled_programs``, ``cached_programs``."""
        return {"compile_s": round(max(self.seconds, 0.0), 4), "compiled_programs": max(self.compiled, 0),
                "cached_programs": max(self.cached, 0)}

    @classmethod
    def from_record(cls, record: dict | None) -> "CompileStats":
        """The figures an epoch record (:meth:`as_record`) holds; zeros where it holds none."""
        record = record or {}
        return cls(float(record.get("compile_s") or 0.0), int(record.get("compiled_programs") or 0),
                   int(record.get("cached_programs") or 0))


_LOCK = threading.Lock()
_JAX = {"seconds": 0.0, "backend_compiles": 0, "hits": 0}
_TF = {"traces": 0}
_INSTALLED: set[str] = set()

_JAX_SECONDS_EVENTS = ("/jax/core/compile/jaxpr_trace_duration", "/jax/core/compile/jaxpr_to_mlir_module_duration",
                       "/jax/core/compile/backend_compile_duration")
_JAX_BACKEND_COMPILE = "/jax/core/compile/backend_compile_duration"
_JAX_CACHE_HIT = "/jax/compilation_cache/cache_hits"


def _install_jax() -> None:
    from jax import monitoring

    def on_duration(event: str, duration: float, **kwargs) -> None:
        if event in _JAX_SECONDS_EVENTS:
            with _LOCK:
                _JAX["seconds"] += float(duration)
                if event == _JAX_BACKEND_COMPILE:
                    _JAX["backend_compiles"] += 1

    def on_event(event: str, **kwargs) -> None:
        if event == _JAX_CACHE_HIT:
            with _LOCK:
                _JAX["hits"] += 1

    monitoring.register_event_duration_secs_listener(on_duration)
    monitoring.register_event_listener(on_event)


def _install_tensorflow() -> None:
    """Count TensorFlow's graph traces: wrap its tracer (private; left alone if it ever moves, and
    then no trace is counted)."""
    try:
        from tensorflow.python.eager.polymorphic_function import tracing_compilation
        from tensorflow.python.framework import ops
    except ImportError:
        return
    original = getattr(tracing_compilation, "_create_concrete_function", None)
    if original is None or getattr(original, "_colorsweep_counted", False):
        return

    def counted(*args, **kwargs):
        if not ops.inside_function():  # a nested function is part of its outer trace
            with _LOCK:
                _TF["traces"] += 1
        return original(*args, **kwargs)

    counted._colorsweep_counted = True
    tracing_compilation._create_concrete_function = counted


def _tensorflow_graph_build_seconds() -> float:
    """TensorFlow's own cumulative ``tf.function`` graph-building time of this process, in seconds."""
    try:
        from tensorflow.python.eager.polymorphic_function import tracing_compilation

        return tracing_compilation._graph_building_time_counter.get_cell().value() / 1e6
    except (ImportError, AttributeError):
        return 0.0


def _backend() -> str:
    if "keras" in sys.modules:
        import keras

        return keras.backend.backend()
    return os.environ.get("KERAS_BACKEND", "tensorflow")


def totals() -> CompileStats:
    """This process's compilation work so far under the current Keras backend, counted from the first
    call (which installs the counters: call it before the backend compiles what is to be measured)."""
    backend = _backend()
    if backend not in _INSTALLED:
        with _LOCK:
            first = backend not in _INSTALLED
            _INSTALLED.add(backend)
        if first:
            (_install_jax if backend == "jax" else _install_tensorflow if backend == "tensorflow" else (lambda: None))()
    with _LOCK:
        if backend == "jax":
            return CompileStats(_JAX["seconds"], _JAX["backend_compiles"] - _JAX["hits"], _JAX["hits"])
        if backend == "tensorflow":
            traces = _TF["traces"]
        else:
            return CompileStats()
    return CompileStats(_tensorflow_graph_build_seconds(), traces, 0)


class CompileMeter:
    """Compilation work since the meter was made, plus ``before`` (what earlier fits of the same trial
    spent, e.g. before a resume): :meth:`so_far`."""

    def __init__(self, before: CompileStats | None = None) -> None:
        self.before = before or CompileStats()
        self.start = totals()

    def so_far(self) -> CompileStats:
        return self.before + (totals() - self.start)
