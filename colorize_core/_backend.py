"""The one seam for backend-specific pieces (TensorBoard logging, TensorFlow device queries, the
compilation cache), so training code stays backend-neutral.

Writes per-epoch scalars with ``tensorboardX`` (pure Python, works under every Keras backend).
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

__all__ = ["native_stderr_to", "import_backend_quietly", "epoch_logger", "tensorflow_has_gpu", "limit_tensorflow_gpu_memory", "accelerator_peak_memory_bytes",
           "use_compilation_cache", "released_tensorflow_gradients", "one_program"]


@contextlib.contextmanager
def native_stderr_to(path: str | os.PathLike | None):
    """Inside the block, what is written to file descriptor 2 (native libraries' C++ logging, which
    no Python setting reaches) goes to ``path`` (truncated first) or, with None, nowhere; the real
    stderr is restored on exit, also after an exception."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        target = os.open(os.fspath(path) if path is not None else os.devnull,
                         os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    except OSError:  # no place for the log: say nothing rather than fail
        target = os.open(os.devnull, os.O_WRONLY)
    os.dup2(target, 2)
    os.close(target)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def import_backend_quietly(log_path: str | os.PathLike | None = None) -> None:
    """Import Keras and its backend with the backend's start-up notices (TensorFlow's absl lines:
    "oneDNN custom operations are on", "Could not find cuda drivers", "failed call to cuInit" on a
    machine without a GPU) sent to ``log_path`` instead of the console. Errors still raise; a no-op
    once Keras is imported. GPUs are only listed, not initialised (memory limits can still be set)."""
    if "keras" in sys.modules:
        return
    with native_stderr_to(log_path):
        import keras

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            tf.config.list_physical_devices("GPU")


def epoch_logger(logdir: str | Path):
    """A Keras callback writing every numeric epoch log (loss, lr, ...) to ``logdir``, or None if
    ``tensorboardX`` is not installed."""
    try:
        from tensorboardX import SummaryWriter
    except ImportError:  # pragma: no cover - tensorboardX is a declared dependency
        return None
    import keras

    class _EpochScalars(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.writer = SummaryWriter(str(logdir))

        def on_epoch_end(self, epoch, logs=None):
            for key, value in (logs or {}).items():
                if isinstance(value, (int, float)):
                    self.writer.add_scalar(key, float(value), epoch + 1)
            self.writer.flush()

        def on_train_end(self, logs=None):
            self.writer.close()

    return _EpochScalars()


def tensorflow_has_gpu() -> bool:
    """Whether TensorFlow sees a GPU (only called when Keras runs on TensorFlow)."""
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def limit_tensorflow_gpu_memory(memory_limit_bytes: int | None) -> bool:
    """Hold this process's TensorFlow to ``memory_limit_bytes`` on each visible GPU (a logical device
    with that limit), growing its allocation on demand (``TF_FORCE_GPU_ALLOW_GROWTH``; TensorFlow's
    Python API refuses ``set_memory_growth`` next to a logical-device limit, the variable does not).

    Must run before TensorFlow initialises its GPUs (before the first op); returns whether a limit was
    set. Nothing to do without a GPU, or under another Keras backend.
    """
    if os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
        return False
    os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return False
    try:
        for gpu in gpus:
            if memory_limit_bytes:
                tf.config.set_logical_device_configuration(
                    gpu, [tf.config.LogicalDeviceConfiguration(memory_limit=int(memory_limit_bytes) // (1 << 20))])
            else:
                tf.config.experimental.set_memory_growth(gpu, True)
    except RuntimeError:  # devices already initialised in this process: too late to limit them
        return False
    return bool(memory_limit_bytes)


def accelerator_peak_memory_bytes() -> int | None:
    """Peak accelerator memory this process has used (TensorFlow: GPU:0's ``peak``; JAX: the first
    GPU's ``peak_bytes_in_use``), or None on CPU or when the backend does not say."""
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            if not tf.config.list_physical_devices("GPU"):
                return None
            return int(tf.config.experimental.get_memory_info("GPU:0")["peak"])
        if backend == "jax":
            import jax

            device = jax.devices()[0]
            if device.platform != "gpu":
                return None
            stats = device.memory_stats() or {}
            return int(stats["peak_bytes_in_use"]) if "peak_bytes_in_use" in stats else None
        if backend == "torch":
            import torch

            return int(torch.cuda.max_memory_allocated()) if torch.cuda.is_available() else None
    except Exception:  # noqa: BLE001 - a measurement must never fail a trial
        return None
    return None


def reset_accelerator_peak_memory() -> bool:
    """Start measuring :func:`accelerator_peak_memory_bytes` afresh (a new trial in a reused worker
    process). Returns whether the backend could: TensorFlow resets GPU:0's peak; JAX keeps one peak for
    the life of the process, so later readings are the largest of all its trials so far (False)."""
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            if not tf.config.list_physical_devices("GPU"):
                return False
            tf.config.experimental.reset_memory_stats("GPU:0")
            return True
        if backend == "torch":
            import torch

            if torch.cuda.is_available():
                torch.cuda.reset_peak_memory_stats()
                return True
    except Exception:  # noqa: BLE001 - a measurement must never fail a trial
        return False
    return False


def use_compilation_cache(cache_dir: str | Path) -> str | None:
    """Keep this process's compiled XLA programs in ``cache_dir`` and load them from there, so that a
    later process compiling the same computation (another trial of the same architecture, optimizer,
    loss and batch size, whatever its learning rate; a resumed trial) skips the compilation.

    JAX: its persistent compilation cache (every program, however quick its compilation; on GPUs
    it also keeps XLA's per-fusion autotuning results). TensorFlow: XLA's persistent cache
    (``--tf_xla_persistent_cache_directory`` in ``TF_XLA_FLAGS``), which only matters where Keras
    compiles with XLA (on GPUs; XLA is off for TensorFlow on CPU, see ``colorize_core.train``).
    Must run before the backend compiles anything, and for TensorFlow before it is imported. The
    cache is trusted code: keep it in a folder only you can write. Returns the backend the cache was
    set for, or None (another backend, or TensorFlow already imported).
    """
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    path = str(Path(cache_dir).expanduser())
    if backend == "jax":
        import jax

        _jax_cache_writes_whole_files()
        jax.config.update("jax_compilation_cache_dir", path)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        return "jax"
    if backend == "tensorflow" and "tensorflow" not in sys.modules:
        flags = os.environ.get("TF_XLA_FLAGS", "")
        if "--tf_xla_persistent_cache_directory" not in flags:
            os.environ["TF_XLA_FLAGS"] = f"{flags} --tf_xla_persistent_cache_directory={path}".strip()
        return "tensorflow"
    return None


def _jax_cache_writes_whole_files() -> None:
    """Make JAX's file cache write each compiled program whole or not at all.

    Without eviction (its default) JAX's ``LRUCache.put`` writes the entry in place: a reader in
    another trial process can read half a program, and a writer killed mid-write leaves a truncated
    entry that is never rewritten (``put`` skips existing keys), so every later process warns and
    compiles again. Here ``put`` writes through :func:`colorize_core.files.write_atomic` (a temporary
    file renamed into place). JAX's own code path is kept where eviction is on, for non-local
    paths, or if its cache class ever moves (private: guarded)."""
    try:
        from jax._src import lru_cache
    except ImportError:
        return
    cache_class = getattr(lru_cache, "LRUCache", None)
    original = getattr(cache_class, "put", None)
    if original is None or getattr(original, "_colorsweep_whole", False):
        return
    suffix = getattr(lru_cache, "_CACHE_SUFFIX", None)

    def put(self, key: str, value: bytes) -> None:
        local = isinstance(getattr(self, "path", None), os.PathLike) and not str(self.path).startswith(("gs:", "s3:"))
        if getattr(self, "eviction_enabled", True) or suffix is None or not local or not key:
            return original(self, key, value)
        from colorize_core.files import write_atomic

        target = Path(os.fspath(self.path)) / f"{key}{suffix}"
        if target.exists():
            return
        write_atomic(target, lambda handle: handle.write(value), binary=True, mode=0o600)

    put._colorsweep_whole = True
    cache_class.put = put


def one_program(fn):
    """``fn`` (a function of backend tensors, in ``keras.ops``) as one compiled program where the
    backend would otherwise run it op by op through programs of their own: under JAX each eager op is
    a program to trace, lower and compile or load (the ``ciede2000`` validation loss alone was about 60
    per fit, :mod:`colorize_core.compilation`), so there it is ``jax.jit(fn)``. Elsewhere ``fn`` itself:
    TensorFlow runs eager ops without compiling them."""
    if os.environ.get("KERAS_BACKEND", "tensorflow") == "jax":
        import jax

        return jax.jit(fn)
    return fn


@contextlib.contextmanager
def released_tensorflow_gradients():
    """Forget, on leaving, the gradient functions TensorFlow registered globally while inside.

    Keras 3's TensorFlow optimizer sums gradients through ``ReplicaContext.all_reduce``, whose
    ``tf.custom_gradient`` registers a ``CustomGradient-N`` entry in TensorFlow's global gradient
    registry every time a training step is traced, and never removes it. Each entry holds the traced
    step's whole graph: 70-85 MiB per ``fit`` of ``unet`` at 32 px, kept for the life of the process
    (a sweep worker that runs one trial after another). The entries are only read while a graph that
    uses them is differentiated, i.e. while tracing inside ``fit``, so they are dropped when it ends
    (also when it is interrupted). Does nothing under other backends.
    """
    registry = None
    if "tensorflow" in sys.modules:
        try:
            from tensorflow.python.framework import ops

            registry = ops.gradient_registry._registry  # private: guarded, skipped if it ever moves
        except (ImportError, AttributeError):
            registry = None
    before = set(registry) if isinstance(registry, dict) else None
    try:
        yield
    finally:
        if before is not None:
            for name in [key for key in registry if key not in before and key.startswith("CustomGradient-")]:
                registry.pop(name, None)
