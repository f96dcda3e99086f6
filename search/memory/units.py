"""Sizes of GPU memory: the GiB/MiB units, parsing and printing a size, the local GPU's memory."""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess

from colorize_core.errors import InvalidValueError

__all__ = ["GiB", "MiB", "parse_memory", "format_bytes", "detect_gpu_memory"]

GiB = 1 << 30
MiB = 1 << 20

_UNITS = {
    "b": 1,
    "k": 1 << 10, "kib": 1 << 10, "kb": 10**3,
    "m": 1 << 20, "mib": 1 << 20, "mb": 10**6,
    "g": 1 << 30, "gib": 1 << 30, "gb": 10**9,
    "t": 1 << 40, "tib": 1 << 40, "tb": 10**12,
}
_SIZE_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([a-zA-Z]*)\s*$")


def parse_memory(value: str | int | float) -> int:
    """Bytes from a size like ``4GiB``, ``4GB`` (10⁹), ``4096MiB``, ``0.5GiB``, ``16G`` (binary).

    An int is taken as bytes. Raises ``ValueError`` naming the value and the accepted forms.
    """
    if isinstance(value, bool):
        raise InvalidValueError(f"gpu memory must be a size like 4GiB, got {value!r}")
    if isinstance(value, (int, float)):
        if value <= 0 or not math.isfinite(value):
            raise InvalidValueError(f"gpu memory must be positive, got {value!r}")
        return int(value)
    match = _SIZE_RE.match(str(value))
    unit = match.group(2).lower() if match else ""
    if not match or not unit or unit not in _UNITS:
        raise InvalidValueError(
            f"gpu memory must be a number with a unit, like 4GiB, 4GB, 4096MiB or 0.5GiB "
            f"(units B, KiB, MiB, GiB, TiB, KB, MB, GB, TB; K/M/G/T are binary), got {value!r}"
        )
    number = float(match.group(1))
    if number <= 0:
        raise InvalidValueError(f"gpu memory must be positive, got {value!r}")
    return int(number * _UNITS[unit])


def format_bytes(n: float | None) -> str:
    """``3.2 GiB``, ``512 MiB``; ``-`` for None."""
    if n is None:
        return "-"
    if n >= GiB:
        return f"{n / GiB:.1f} GiB"
    if n >= MiB:
        return f"{n / MiB:.0f} MiB"
    return f"{n / 1024:.0f} KiB"


def detect_gpu_memory() -> int | None:
    """Memory of the smallest local GPU in bytes (``nvidia-smi``), or None without one.

    ``COLORSWEEP_GPU_MEMORY`` (a size such as ``80GiB``) overrides the detection.
    """
    override = os.environ.get("COLORSWEEP_GPU_MEMORY")
    if override:
        return parse_memory(override)
    exe = shutil.which("nvidia-smi")
    if not exe:
        return None
    try:
        out = subprocess.run([exe, "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=10, check=True).stdout
        values = [int(float(line.strip())) for line in out.splitlines() if line.strip()]
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return min(values) * MiB if values else None
