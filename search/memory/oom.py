"""Recognising an accelerator out-of-memory error, and the error a trial raises for one."""

from __future__ import annotations

__all__ = ["OOM_MARKERS", "is_out_of_memory", "TrialOutOfMemory"]

#: Text that marks an out-of-memory error: TensorFlow, XLA (JAX), CUDA, PyTorch.
OOM_MARKERS = ("ResourceExhaustedError", "RESOURCE_EXHAUSTED", "CUDA out of memory", "out of memory",
               "Out of memory", "OutOfMemoryError", "CUDA_ERROR_OUT_OF_MEMORY")


def is_out_of_memory(error: BaseException | str | None) -> bool:
    """Whether an exception (or its chain), or an error text, is an accelerator out-of-memory error."""
    seen = set()
    while isinstance(error, BaseException) and id(error) not in seen:
        seen.add(id(error))
        if type(error).__name__ in ("ResourceExhaustedError", "OutOfMemoryError") or any(
                marker in str(error) for marker in OOM_MARKERS):
            return True
        error = error.__cause__ or error.__context__
    return isinstance(error, str) and any(marker in error for marker in OOM_MARKERS)


class TrialOutOfMemory(RuntimeError):
    """A trial ran out of accelerator memory (its message says "out of memory", which the sweep's
    monitor records as status ``oom``)."""
