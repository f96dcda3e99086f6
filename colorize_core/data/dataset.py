"""Load a data set as square Lab arrays split three ways, from the cache when it holds them (:func:`load_dataset`).

The pipeline, per source file::

    discover_images ─► read_image (OpenCV, EXIF orientation, 8/16-bit, alpha over white)
        ─► reject grayscale / colourless images (counted in ``LabDataset.skipped``, never fatal)
        ─► centre-crop to a square, resize to size × size with ``cv2.INTER_AREA``
        ─► ``color.rgb_to_lab`` (the one place for Lab conventions)
        ─► deterministic split by a SHA-1 hash of the file's path relative to its source root
        ─► training split only: the photo also kept whole at a working resolution, 8-bit
           (``LabDataset.pool``, what random-crop training samples from; see :mod:`colorize_core.sampling`)
        ─► one uncompressed ``.npz`` cache file, named by the data fingerprint

Units: arrays hold real CIELAB units (``L`` in [0, 100], ``a``/``b`` in about [-128, 127]); the model's
normalisation lives in :mod:`colorize_core.color` (``encode_l`` / ``encode_ab``).
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from colorize_core.errors import InvalidValueError
from colorize_core import color, sampling
from colorize_core.data.cache import (
    _CACHE_PREFIX, CONVERSION_VERSION, _fingerprint, _load_cache, _names_array, _save_cache, default_cache_dir,
)
from colorize_core.data.discover import _discover
from colorize_core.data.image_io import DEFAULT_MAX_IMAGE_PIXELS, max_image_pixels
from colorize_core.data.samples import _check_size, _demo_items, _file_items, _process
from colorize_core.data.split import _SPLIT_NAMES, DEFAULT_SPLIT, _assign_splits, _check_split
from colorize_core.sampling import PhotoPool

__all__ = ["LabSplit", "SkippedFile", "LabDataset", "load_dataset"]


@dataclass(frozen=True)
class LabSplit:
    """One split of a dataset, in real Lab units (see :mod:`colorize_core.color`).

    Attributes:
        lightness: ``(N, S, S, 1)`` float32, L in [0, 100].
        ab: ``(N, S, S, 2)`` float32, a and b in about [-128, 127].
        names: ``N`` names: each source file's path relative to its source root (POSIX separators),
            plus ``"#tileK"`` for demo tiles.
    """

    lightness: np.ndarray
    ab: np.ndarray
    names: tuple[str, ...]

    def __post_init__(self) -> None:
        n = len(self.names)
        if self.lightness.shape[0] != n or self.ab.shape[0] != n:
            raise InvalidValueError(
                f"LabSplit arrays and names must have the same length, got lightness "
                f"{self.lightness.shape}, ab {self.ab.shape} and {n} names"
            )

    def __len__(self) -> int:
        return len(self.names)


@dataclass(frozen=True)
class SkippedFile:
    """A discovered file that was not loaded: ``path`` (relative, like ``LabSplit.names``) and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class LabDataset:
    """A loaded, split dataset (returned by :func:`load_dataset`).

    Attributes:
        train, val, test: the three splits.
        size: side of every sample in pixels.
        lab_mode: ``"float"`` or ``"seed"`` (see :mod:`colorize_core.color`).
        source: the resolved source folder path(s) joined with ``os.pathsep``, or ``"demo"``.
        fingerprint: SHA-256 hex digest of the file list (names, byte sizes, mtimes in ns), ``size``,
            ``lab_mode``, ``split``, ``min_chroma``, :data:`CONVERSION_VERSION` and the OpenCV version
            (for ``"demo"``: the scikit-image / scikit-learn versions instead of the file list).
        skipped: files found but not loaded, with reasons.
        n_found: number of files found (loaded + skipped; for the demo, the number of tiles).
        cache_hit: True when the arrays came from the cache without decoding any image.
        cache_path: the ``.npz`` cache file, or None when caching is off.
        split: the (train, val, test) fractions used.
        min_chroma: the colourfulness threshold used, in Lab units.
        original_sizes: ``(width, height)`` in pixels of each loaded source image, in discovery order.
        pool: the training split's photos at working resolution (:class:`colorize_core.sampling.PhotoPool`),
            what ``TrainConfig.samples_per_epoch`` draws random crops from; None when loaded with
            ``pool_side=None``.
    """

    train: LabSplit
    val: LabSplit
    test: LabSplit
    size: int
    lab_mode: str
    source: str
    fingerprint: str
    skipped: tuple[SkippedFile, ...]
    n_found: int
    cache_hit: bool
    cache_path: str | None
    split: tuple[float, float, float] = DEFAULT_SPLIT
    min_chroma: float = 2.0
    original_sizes: tuple[tuple[int, int], ...] = field(default=(), repr=False)
    pool: PhotoPool | None = field(default=None, repr=False)

    @property
    def n_loaded(self) -> int:
        """Number of samples over the three splits."""
        return len(self.train) + len(self.val) + len(self.test)

    def splits(self) -> dict[str, LabSplit]:
        """The splits by name: ``{"train": ..., "val": ..., "test": ...}``."""
        return {"train": self.train, "val": self.val, "test": self.test}

    def summary(self) -> dict[str, Any]:
        """JSON-able description (counts, sizes, skipped files; no arrays)."""
        n_bytes = sum(s.lightness.nbytes + s.ab.nbytes for s in self.splits().values())
        return {
            "source": self.source,
            "size": self.size,
            "lab_mode": self.lab_mode,
            "split_fractions": list(self.split),
            "min_chroma": self.min_chroma,
            "fingerprint": self.fingerprint,
            "conversion_version": CONVERSION_VERSION,
            "n_found": self.n_found,
            "n_loaded": self.n_loaded,
            "n_skipped": len(self.skipped),
            "splits": {name: len(s) for name, s in self.splits().items()},
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
            "array_megabytes": round(n_bytes / 2**20, 3),
            "pool": None if self.pool is None else {
                "photos": len(self.pool), "short_side": self.pool.side,
                "megabytes": round(self.pool.nbytes / 2**20, 3),
            },
            "cache_hit": self.cache_hit,
            "cache_path": self.cache_path,
        }


def _check_lab_mode(lab_mode: Any) -> str:
    """``lab_mode`` if it is one of :data:`colorize_core.color.LAB_MODES`; else ValueError."""
    if lab_mode not in color.LAB_MODES:
        raise InvalidValueError(f"lab_mode must be one of {color.LAB_MODES}, got {lab_mode!r}")
    return lab_mode


def _check_min_chroma(min_chroma: Any) -> float:
    """``min_chroma`` (mean Lab chroma units) as a float if finite and >= 0; else ValueError."""
    try:
        value = float(min_chroma)
    except (TypeError, ValueError):
        value = float("nan")
    if isinstance(min_chroma, bool) or not (math.isfinite(value) and value >= 0):
        raise InvalidValueError(
            f"min_chroma must be a finite number >= 0 (mean Lab chroma units), got {min_chroma!r}"
        )
    return value


def _resolve_source(source: Any) -> str | list[str | os.PathLike]:
    """``"demo"`` or the list of source paths that ``source`` names; ValueError for anything else."""
    if isinstance(source, str) and source == "demo":
        return "demo"
    if isinstance(source, (str, os.PathLike)):
        return [source]
    if isinstance(source, (list, tuple)) and source and all(
        isinstance(s, (str, os.PathLike)) for s in source
    ):
        if list(source) == ["demo"]:
            return "demo"
        if "demo" in source:
            raise InvalidValueError(
                f'source "demo" cannot be combined with folders (use ./demo for a folder named demo), '
                f"got {source!r}"
            )
        return list(source)
    raise InvalidValueError(
        f'source must be "demo", a path, or a non-empty list of paths, got {source!r}'
    )


def load_dataset(
    source: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    size: int = 128,
    split: Sequence[float] = DEFAULT_SPLIT,
    lab_mode: str = "float",
    min_chroma: float = 2.0,
    cache_dir: str | os.PathLike | None = None,
    use_cache: bool = True,
    progress: Callable[[int, int], None] | None = None,
    pool_side: int | str | None = "auto",
) -> LabDataset:
    """Load images as square Lab arrays, split deterministically, and cache the result.

    Args:
        source: ``"demo"`` (built-in photos, see :mod:`colorize_core.demo`; also ``["demo"]``), a
            folder or file, or a list of them (see :func:`discover_images`). With several folders,
            names are prefixed with each folder's name; the split key stays the path relative to
            its own folder.
        size: output side in pixels (8 to 4096). Each image is centre-cropped to a square (cropped, not
            padded) and resized with ``cv2.INTER_AREA``.
        split: (train, val, test) fractions, each >= 0, train > 0, summing to 1. Each file goes to a
            split by the SHA-1 of its path relative to its source root, so adding files never moves
            existing ones; with >= 3 images every split with a positive fraction gets at least one
            (boundary rule in ``_assign_splits``).
        lab_mode: ``"float"`` or ``"seed"`` (see :func:`colorize_core.color.rgb_to_lab`).
        min_chroma: images whose mean chroma ``sqrt(a² + b²)`` (Lab units, after resizing) is below this
            are skipped as "no colour". Files that are single-channel or have R == G == B everywhere are
            skipped as "grayscale".
        cache_dir: folder of ``.npz`` caches; default :func:`default_cache_dir`.
        use_cache: read and write the cache (False: always decode, write nothing).
        progress: called as ``progress(done, total)`` in the calling thread after each file is decoded
            (not called on a cache hit).
        pool_side: short side in pixels at which the training split's photos are also kept whole, as
            ``LabDataset.pool`` (what ``TrainConfig.samples_per_epoch`` crops from): ``"auto"``
            (:func:`colorize_core.sampling.pool_side_for`: 4 × ``size``, at most 512, within the pool's
            memory budget), an int >= ``size``, or None for no pool. Part of the cache fingerprint.

    Returns:
        A :class:`LabDataset`. Unusable files are listed in ``skipped`` with a reason; they never fail
        the load.

    Raises:
        FileNotFoundError: a source path does not exist.
        ValueError: a bad argument, no image files found, or no image usable (all skipped).
    """
    resolved = _resolve_source(source)
    size = _check_size(size)
    fractions = _check_split(split)
    lab_mode = _check_lab_mode(lab_mode)
    min_chroma = _check_min_chroma(min_chroma)
    if progress is not None and not callable(progress):
        raise InvalidValueError(f"progress must be a callable(done, total) or None, got {progress!r}")
    if not (pool_side is None or pool_side == "auto" or (
        isinstance(pool_side, (int, np.integer)) and not isinstance(pool_side, bool) and size <= pool_side <= 4096
    )):
        raise InvalidValueError(f'pool_side must be "auto", None, or an int from size ({size}) to 4096 pixels, '
                                f"got {pool_side!r}")

    common = {
        "size": size,
        "lab_mode": lab_mode,
        "split": list(fractions),
        "min_chroma": min_chroma,
        "conversion_version": CONVERSION_VERSION,
        "opencv": cv2.__version__,
    }
    if max_image_pixels() != DEFAULT_MAX_IMAGE_PIXELS:  # another limit can load other files
        common["max_image_pixels"] = max_image_pixels()
    if resolved == "demo":
        from colorize_core import demo

        source_text = "demo"
        pairs = None
        n_candidates = len(demo.demo_images()) * demo.DEFAULT_TILES_PER_IMAGE
    else:
        pairs = _discover(resolved)
        n_candidates = len(pairs)
        source_text = os.pathsep.join(dict.fromkeys(str(root) for root, _ in pairs))
        files = []
        for item, (_, path) in zip(_file_items(pairs), pairs):
            st = path.stat()
            files.append([item.name, st.st_size, st.st_mtime_ns])
    if pool_side == "auto":
        pool_side = sampling.pool_side_for(size, math.ceil(n_candidates * fractions[0]))
    if pool_side is not None:
        pool_side = int(pool_side)
        common["pool_side"] = pool_side
    if pairs is None:
        payload = {"source": "demo", **demo.demo_fingerprint_info(), **common}
    else:
        payload = {"files": files, **common}
    fingerprint = _fingerprint(payload)

    cache_path: Path | None = None
    if use_cache:
        cache_path = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
        cache_path = cache_path / f"{_CACHE_PREFIX}{fingerprint}.npz"
        cached = _load_cache(cache_path, fingerprint)
        if cached is not None and (pool_side is None or "pool_pixels" in cached):
            return _dataset_from_arrays(
                cached, size=size, lab_mode=lab_mode, source=source_text, fingerprint=fingerprint,
                fractions=fractions, min_chroma=min_chroma, cache_hit=True, cache_path=cache_path,
            )

    if pairs is None:
        items, original_sizes = _demo_items(size, pool_side)
    else:
        items, original_sizes = _file_items(pairs), None

    total = len(items)
    results = []
    workers = max(1, min(os.cpu_count() or 1, total))
    work = lambda item: _process(item, size=size, lab_mode=lab_mode, min_chroma=min_chroma,  # noqa: E731
                                 pool_side=pool_side)
    with ThreadPoolExecutor(max_workers=workers) as pool:  # OpenCV releases the GIL while decoding
        for done, result in enumerate(pool.map(work, items), start=1):
            results.append(result)
            if progress is not None:
                progress(done, total)

    ok_items = [(item, r) for item, r in zip(items, results) if r[0] == "ok"]
    skipped = [(item.name, r[1]) for item, r in zip(items, results) if r[0] == "skip"]
    if not ok_items:
        reasons = "; ".join(f"{p}: {r}" for p, r in skipped[:5])
        raise InvalidValueError(
            f"no usable images in source {source_text!r}: all {total} were skipped ({reasons}"
            f"{'; ...' if len(skipped) > 5 else ''})"
        )
    if original_sizes is None:
        original_sizes = [r[2] for _, r in ok_items]
    assignment = _assign_splits([item.key for item, _ in ok_items], fractions)
    arrays: dict[str, np.ndarray] = {
        "fingerprint": np.array(fingerprint),
        "n_found": np.array(total, dtype=np.int64),
        "skipped_paths": _names_array([p for p, _ in skipped]),
        "skipped_reasons": _names_array([r for _, r in skipped]),
        "original_sizes": np.array(original_sizes, dtype=np.int64).reshape(-1, 2),
    }
    for index, split_name in enumerate(_SPLIT_NAMES):
        members = [(item, r) for (item, r), a in zip(ok_items, assignment) if a == index]
        lab = (
            np.stack([r[1] for _, r in members]).astype(np.float32)
            if members
            else np.zeros((0, size, size, 3), np.float32)
        )
        arrays[f"{split_name}_lightness"] = np.ascontiguousarray(lab[..., :1])
        arrays[f"{split_name}_ab"] = np.ascontiguousarray(lab[..., 1:])
        arrays[f"{split_name}_names"] = _names_array([item.name for item, _ in members])
        if split_name == "train" and pool_side is not None:
            pool = PhotoPool.from_images([r[3] for _, r in members], [item.name for item, _ in members], pool_side)
            arrays["pool_pixels"], arrays["pool_shapes"] = pool.pixels, pool.shapes
            arrays["pool_side"] = np.array(pool_side, dtype=np.int64)
    if cache_path is not None:
        try:
            _save_cache(cache_path, arrays)
        except OSError as exc:  # a cache is an optimisation: never fail a load over it
            warnings.warn(f"could not write the data cache {cache_path}: {exc}", stacklevel=2)
            cache_path = None
    return _dataset_from_arrays(
        arrays, size=size, lab_mode=lab_mode, source=source_text, fingerprint=fingerprint,
        fractions=fractions, min_chroma=min_chroma, cache_hit=False, cache_path=cache_path,
    )


def _dataset_from_arrays(
    arrays: dict[str, np.ndarray], *, size: int, lab_mode: str, source: str, fingerprint: str,
    fractions: tuple[float, float, float], min_chroma: float, cache_hit: bool, cache_path: Path | None,
) -> LabDataset:
    """The :class:`LabDataset` of arrays laid out as the cache stores them (loaded or just built)."""
    splits = {
        name: LabSplit(
            lightness=arrays[f"{name}_lightness"],
            ab=arrays[f"{name}_ab"],
            names=tuple(str(s) for s in arrays[f"{name}_names"]),
        )
        for name in _SPLIT_NAMES
    }
    skipped = tuple(
        SkippedFile(path=str(p), reason=str(r))
        for p, r in zip(arrays["skipped_paths"], arrays["skipped_reasons"])
    )
    pool = None
    if "pool_pixels" in arrays:
        pool = PhotoPool(pixels=arrays["pool_pixels"], shapes=arrays["pool_shapes"],
                         names=splits["train"].names, side=int(arrays["pool_side"]))
    return LabDataset(
        train=splits["train"], val=splits["val"], test=splits["test"], size=size, lab_mode=lab_mode,
        source=source, fingerprint=fingerprint, skipped=skipped, n_found=int(arrays["n_found"]),
        cache_hit=cache_hit, cache_path=str(cache_path) if cache_path is not None else None,
        split=fractions, min_chroma=min_chroma,
        original_sizes=tuple((int(w), int(h)) for w, h in arrays["original_sizes"]),
        pool=pool,
    )
