"""Peak resident memory (host RAM, MiB) of this process since the fit began, for each epoch's record.

GPU memory is not measured here (see :func:`colorize_core._backend.accelerator_peak_memory_bytes`).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["reset_peak_rss", "peak_rss_mb"]


def reset_peak_rss() -> None:
    """Start this process's peak-resident-memory count afresh (Linux: ``/proc/self/clear_refs``), so
    that a fit in a process that ran earlier fits (a reused sweep worker) reports its own peak."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:  # not Linux, or not permitted: peak_rss_mb falls back to the lifetime peak
        pass


def peak_rss_mb() -> float | None:
    """Peak resident memory of this process, MiB (host RAM; GPU memory is not measured here): since
    the last :func:`reset_peak_rss` on Linux (``VmHWM``), else over the process's lifetime."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0  # kB
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource
    except ImportError:  # not on Windows
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB
