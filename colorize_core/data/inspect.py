"""What ``colorsweep data inspect`` prints about a data set: counts, skipped and ignored files, sizes, cache."""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable, Sequence
from typing import Any

from colorize_core.data.dataset import load_dataset
from colorize_core.data.discover import ignored_files
from colorize_core.data.split import DEFAULT_SPLIT

__all__ = ["inspect_data"]


def _stats(values: Sequence[int]) -> dict[str, float | int | None]:
    """Min, median and max of ``values`` (all None when empty)."""
    if not values:
        return {"min": None, "median": None, "max": None}
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def inspect_data(
    source: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    size: int = 128,
    split: Sequence[float] = DEFAULT_SPLIT,
    lab_mode: str = "float",
    min_chroma: float = 2.0,
    cache_dir: str | os.PathLike | None = None,
    use_cache: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """What ``colorsweep data inspect`` prints: load (or reuse the cache) and describe the data.

    Arguments are those of :func:`load_dataset`. Returns a JSON-able dict with ``source``,
    ``files_found``, ``loaded``, ``skipped`` (list of ``{"path", "reason"}``), ``ignored`` (files
    not searched, by extension: ``{".gif": 3}``), ``splits`` (counts),
    ``original_size`` (min / median / max ``width`` and ``height`` in pixels of the loaded source
    images), ``pool`` (the training photos kept whole for random crops: count, short side, MB),
    ``size``, ``lab_mode``, ``fingerprint``, ``cache_path`` and ``cache_hit``.
    """
    dataset = load_dataset(
        source, size=size, split=split, lab_mode=lab_mode, min_chroma=min_chroma,
        cache_dir=cache_dir, use_cache=use_cache, progress=progress,
    )
    summary = dataset.summary()
    widths = [w for w, _ in dataset.original_sizes]
    heights = [h for _, h in dataset.original_sizes]
    return {
        "source": dataset.source,
        "files_found": dataset.n_found,
        "loaded": dataset.n_loaded,
        "skipped": summary["skipped"],
        "ignored": ignored_files(source) if source != "demo" else {},
        "splits": summary["splits"],
        "original_size": {"width": _stats(widths), "height": _stats(heights)},
        "pool": summary["pool"],
        "size": dataset.size,
        "lab_mode": dataset.lab_mode,
        "min_chroma": dataset.min_chroma,
        "fingerprint": dataset.fingerprint,
        "cache_path": dataset.cache_path,
        "cache_hit": dataset.cache_hit,
    }
