"""Image data for colorization: discover, decode, validate, crop, resize, convert to Lab, split, cache.

The pipeline, per source file (see :func:`load_dataset`)::

    discover_images ─► read_image (OpenCV, EXIF orientation, 8/16-bit, alpha over white)
        ─► reject grayscale / colourless images (counted in ``LabDataset.skipped``, never fatal)
        ─► centre-crop to a square, resize to size × size with ``cv2.INTER_AREA``
        ─► ``color.rgb_to_lab`` (the one place for Lab conventions)
        ─► deterministic split by a SHA-1 hash of the file's path relative to its source root
        ─► training split only: the photo also kept whole at a working resolution, 8-bit
           (``LabDataset.pool``, what random-crop training samples from; see :mod:`colorize_core.sampling`)
        ─► one uncompressed ``.npz`` cache file, named by the data fingerprint

Units: arrays hold real CIELAB units (``L`` in [0, 100], ``a``/``b`` in about [-128, 127]); the model's
normalisation lives in :mod:`colorize_core.color` (``encode_l`` / ``encode_ab``). OpenCV's BGR order never
leaves this module: :func:`read_image` returns RGB.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import statistics
import struct
import warnings
import zipfile
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from colorize_core import color, sampling
from colorize_core.files import write_atomic
from colorize_core.sampling import PhotoPool

__all__ = [
    "CONVERSION_VERSION",
    "IMAGE_EXTENSIONS",
    "MIN_IMAGE_SIDE",
    "DEFAULT_SPLIT",
    "ImageError",
    "LabSplit",
    "SkippedFile",
    "LabDataset",
    "default_cache_dir",
    "discover_images",
    "read_image",
    "prepare_rgb",
    "load_dataset",
    "augment_batch",
    "inspect_data",
]

#: Bump whenever decoding, cropping, resizing or the Lab conversion changes what a cache holds:
#: every cache fingerprint includes it, so old caches are ignored.
CONVERSION_VERSION = 1

#: File extensions searched by :func:`discover_images` (compared case-insensitively).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")

#: Images with a side shorter than this many pixels are rejected by :func:`read_image`.
MIN_IMAGE_SIDE = 8

#: Images with more pixels than this are skipped, checked from the file header before decoding (a
#: 20000x20000 PNG of 1 MB would take 6 GB once decoded). Raise it with COLORSWEEP_MAX_IMAGE_PIXELS
#: (a number of pixels, e.g. 100e6) or ``--max-megapixels``.
DEFAULT_MAX_IMAGE_PIXELS = 50_000_000
MAX_PIXELS_ENV = "COLORSWEEP_MAX_IMAGE_PIXELS"


def max_image_pixels() -> int:
    """The largest image (width x height, pixels) decoded: COLORSWEEP_MAX_IMAGE_PIXELS or 50 MP."""
    value = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if not value:
        return DEFAULT_MAX_IMAGE_PIXELS
    try:
        pixels = int(float(value))
    except ValueError:
        raise ValueError(f"{MAX_PIXELS_ENV}={value!r} is not a number of pixels (e.g. 100e6)") from None
    if pixels <= 0:
        raise ValueError(f"{MAX_PIXELS_ENV} must be a positive number of pixels, got {value!r}")
    return pixels


def header_size(path: str | os.PathLike) -> tuple[int, int] | None:
    """(width, height) in pixels read from an image file's header (nothing decoded), or None when the
    header cannot be read (the decoder then says what is wrong)."""
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                return tuple(image.size)
    except Image.DecompressionBombError:
        return (2**31 - 1, 1)  # beyond Pillow's own guard (178 MP): over any sensible limit
    except Exception:  # noqa: BLE001 - not an image Pillow knows: let OpenCV try and explain
        return None


#: Train / validation / test fractions of the original study.
DEFAULT_SPLIT = (0.7, 0.15, 0.15)

_SPLIT_NAMES = ("train", "val", "test")
_COLOR_DIRS = frozenset({"color", "colour"})
_GRAY_DIRS = frozenset({"gray", "grey"})
_CACHE_PREFIX = "colorsweep-lab-"
_CACHE_KEYS = frozenset(
    {"fingerprint", "n_found", "skipped_paths", "skipped_reasons", "original_sizes"}
    | {f"{split}_{part}" for split in ("train", "val", "test") for part in ("lightness", "ab", "names")}
)


class ImageError(ValueError):
    """A file that cannot be used as an image; ``str(error)`` is a human-readable reason."""


# --------------------------------------------------------------------------------------------------
# Data classes
# --------------------------------------------------------------------------------------------------


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
            raise ValueError(
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


# --------------------------------------------------------------------------------------------------
# Discovery
# --------------------------------------------------------------------------------------------------


def _is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS) and not name.startswith(".")


def _walk_images(root: Path) -> list[Path]:
    """All image files under ``root`` sorted by relative POSIX path, with the Kaggle color/gray rule."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        lowered = {d.lower(): d for d in dirnames}
        color_dirs = [lowered[d] for d in lowered if d in _COLOR_DIRS]
        if color_dirs and any(d in _GRAY_DIRS for d in lowered):
            # Kaggle "landscape Images" layout: colour/ and gray/ hold the same photos; L comes from
            # the colour file, so only color/ is used (its siblings and loose files are ignored).
            dirnames[:] = sorted(color_dirs)
            continue
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found.extend(Path(dirpath) / f for f in filenames if _is_image_name(f))
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def _discover(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> list[tuple[Path, Path]]:
    """``(source_root, file)`` pairs, sources in the order given, files sorted within each source."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    try:
        path_list = [Path(p) for p in paths]
    except TypeError as exc:
        raise ValueError(
            f"paths must be a path or a list of paths (str or os.PathLike), got {paths!r}"
        ) from exc
    if not path_list:
        raise ValueError("paths must name at least one file or folder, got an empty list")
    pairs: list[tuple[Path, Path]] = []
    seen: set[Path] = set()
    for path in path_list:
        if not path.exists():
            raise FileNotFoundError(f"image path not found: {str(path)!r}")
        path = path.resolve()
        if path.is_file():
            root, files = path.parent, [path]
        else:
            root, files = path, _walk_images(path)
        for f in files:
            if f not in seen:  # the same file reached through overlapping paths counts once
                seen.add(f)
                pairs.append((root, f))
    if not pairs:
        raise ValueError(
            f"no images found in {[str(p) for p in path_list]}: searched recursively for files "
            f"ending in {', '.join(IMAGE_EXTENSIONS)} (any case)"
        )
    return pairs


def ignored_files(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> dict[str, int]:
    """Files under ``paths`` that are not searched as images, counted by extension (``{".gif": 3}``;
    ``"(none)"`` for names without one). Hidden files and the Kaggle ``gray/`` copies are not counted."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    counts: dict[str, int] = {}
    for path in map(Path, paths):
        if not path.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(path):
            lowered = {d.lower(): d for d in dirnames}
            if any(d in _COLOR_DIRS for d in lowered) and any(d in _GRAY_DIRS for d in lowered):
                dirnames[:] = [lowered[d] for d in lowered if d in _COLOR_DIRS]
                continue
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for name in filenames:
                if name.startswith(".") or _is_image_name(name):
                    continue
                ext = os.path.splitext(name)[1].lower() or "(none)"
                counts[ext] = counts.get(ext, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def discover_images(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Path]:
    """Find image files under one or more paths (folders searched recursively, or single files).

    Extensions: :data:`IMAGE_EXTENSIONS` in any case. Hidden files and folders (``.name``) are skipped.
    Kaggle "landscape Images" layout: a folder holding both ``color/`` and ``gray/`` subfolders
    contributes only ``color/`` (the lightness comes from the colour photo). Order: sources as given,
    files sorted by their POSIX path relative to their source; a file reached twice is listed once.

    Returns:
        Absolute (resolved) paths.

    Raises:
        FileNotFoundError: a path does not exist (the message names it).
        ValueError: no image at all was found (the message lists the extensions searched).
    """
    return [f for _, f in _discover(paths)]


# --------------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------------


def _may_have_alpha(head: bytes) -> bool:
    """Cheap header sniffing: False when the format cannot carry alpha here (saves a second decode)."""
    if head[:3] == b"\xff\xd8\xff":  # JPEG
        return False
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        if len(head) > 25 and head[25] in (4, 6):  # grey+alpha, RGBA
            return True
        idat = head.find(b"IDAT")
        return b"tRNS" in (head[:idat] if idat >= 0 else head)  # palette / colour-key transparency
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        chunk = head[12:16]
        if chunk == b"VP8X":
            return len(head) > 20 and bool(head[20] & 0x10)
        if chunk == b"VP8L":
            return len(head) > 24 and bool((int.from_bytes(head[21:25], "little") >> 28) & 1)
        return False  # lossy "VP8 " has no alpha
    return True  # BMP, TIFF, ...: decode once more unchanged and look


# EXIF orientation (1-8) -> (quarter turns counter-clockwise for np.rot90, mirror left-right first)
# that displays the stored pixels upright, as OpenCV and Pillow apply it.
_EXIF_TRANSFORMS = {
    1: (0, False), 2: (0, True), 3: (2, False), 4: (2, True),
    5: (1, True), 6: (3, False), 7: (3, True), 8: (1, False),
}


def _apply_orientation(image: np.ndarray, orientation: int) -> np.ndarray:
    k, mirror = _EXIF_TRANSFORMS[orientation]
    return np.rot90(image[:, ::-1] if mirror else image, k)


def _exif_orientation(block: bytes) -> int | None:
    """The Orientation tag (0x0112) of an EXIF/TIFF block, or None if absent or malformed."""
    if block.startswith(b"Exif\x00\x00"):
        block = block[6:]
    if len(block) < 8 or block[:2] not in (b"II", b"MM"):
        return None
    endian = "<" if block[:2] == b"II" else ">"
    (ifd,) = struct.unpack(endian + "I", block[4:8])
    if ifd + 2 > len(block):
        return None
    (count,) = struct.unpack(endian + "H", block[ifd : ifd + 2])
    for i in range(count):
        offset = ifd + 2 + 12 * i
        if offset + 10 > len(block):
            return None
        tag, kind = struct.unpack(endian + "HH", block[offset : offset + 4])
        if tag == 0x0112 and kind == 3:  # SHORT
            (value,) = struct.unpack(endian + "H", block[offset + 8 : offset + 10])
            return value if value in _EXIF_TRANSFORMS else None
    return None


def _decode_with_alpha(buf: np.ndarray) -> tuple[np.ndarray | None, int | None]:
    """IMREAD_UNCHANGED decode (keeps alpha, ignores EXIF orientation) and the EXIF orientation."""
    if hasattr(cv2, "imdecodeWithMetadata"):  # OpenCV >= 4.12
        try:
            full, types, blocks = cv2.imdecodeWithMetadata(buf, cv2.IMREAD_UNCHANGED)
        except cv2.error:
            return None, None
        for kind, block in zip(types, blocks):
            if kind == cv2.IMAGE_METADATA_EXIF:
                orientation = _exif_orientation(np.asarray(block, np.uint8).tobytes())
                if orientation is not None:
                    return full, orientation
        return full, None
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED), None


def _unit_scale(image: np.ndarray) -> float:
    """Divisor that maps the decoded pixel type to [0, 1]."""
    if image.dtype == np.uint8:
        return 255.0
    if image.dtype == np.uint16:
        return 65535.0
    if image.dtype in (np.float32, np.float64):
        return 1.0
    raise ImageError(f"unsupported pixel type {image.dtype} (supported: 8-bit, 16-bit, float)")


@dataclass(frozen=True)
class _Decoded:
    pixels: np.ndarray  # (H, W, C) RGB order, C in {1, 3}, native dtype (float32 after alpha compositing)
    scale: float  # divide by this to get [0, 1]
    file_channels: int  # colour channels in the file: 1 for grayscale files


def _decode(path: str | os.PathLike) -> _Decoded:
    path = os.fspath(path)
    try:
        buf = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise ImageError(f"cannot read file: {exc.strerror or exc}") from exc
    if buf.size == 0:
        raise ImageError("empty file (0 bytes)")
    dims, limit = header_size(path), max_image_pixels()
    if dims is not None and dims[0] * dims[1] > limit:
        shown = f"{dims[0]}x{dims[1]} px" if dims[1] > 1 else "over 178 MP"
        raise ImageError(f"too large: {shown} is more than {limit / 1e6:g} MP; skipped before decoding "
                         f"(raise the limit with --max-megapixels or {MAX_PIXELS_ENV})")
    data = buf.tobytes()
    if data[:3] == b"\xff\xd8\xff":
        # Some OpenCV/libjpeg builds (OpenCV 4.x) decode a truncated file with a warning and grey rows;
        # OpenCV 5 returns nothing. Either way, say why. Scan data never contains FF D9 (0xFF is
        # byte-stuffed), so a complete file has an end-of-image marker after its last start-of-scan.
        if data.rfind(b"\xff\xd9") < data.rfind(b"\xff\xda"):
            raise ImageError("truncated JPEG: no end-of-image marker after the last scan")
    try:
        # ANYDEPTH keeps 16 bits, ANYCOLOR keeps grayscale files single-channel, and unlike
        # IMREAD_UNCHANGED these flags let OpenCV apply the EXIF orientation. They drop alpha.
        image = cv2.imdecode(buf, cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR)
    except cv2.error as exc:
        raise ImageError(f"cannot decode: corrupt or unsupported image ({exc.err})") from exc
    if image is None or image.size == 0:
        raise ImageError("cannot decode: not an image, or corrupt / truncated")
    if image.ndim == 2:
        image = image[:, :, None]
    height, width = image.shape[:2]
    if min(height, width) < MIN_IMAGE_SIDE:
        raise ImageError(
            f"too small: {width}x{height} px, need at least {MIN_IMAGE_SIDE} px on each side"
        )
    scale = _unit_scale(image)
    channels = image.shape[2]
    if channels == 4:  # some decoders return BGRA even without IMREAD_UNCHANGED
        image, channels = image[:, :, :3], 3
    if channels not in (1, 3):
        raise ImageError(f"unsupported channel count {channels} (supported: 1, 3, 4)")
    if _may_have_alpha(data):
        full, orientation = _decode_with_alpha(buf)
        if full is not None and full.ndim == 3 and full.shape[2] == 4:
            image = _composite_over_white(full, orientation, image)
            return _Decoded(image, 1.0, 3)
    if channels == 3:
        image = image[:, :, ::-1]  # BGR -> RGB
    return _Decoded(image, scale, channels)


def _composite_over_white(full: np.ndarray, orientation: int | None, oriented: np.ndarray) -> np.ndarray:
    """Composite a BGRA decode over white and orient it upright; float32 RGB in [0, 1].

    IMREAD_UNCHANGED (needed for alpha) ignores the EXIF orientation, so it is applied here from the
    EXIF block. Without a readable EXIF orientation (or an OpenCV without ``imdecodeWithMetadata``),
    the rotation/flip is the first of identity, then the other seven, that turns the colour channels
    into ``oriented``, the decode in which OpenCV applied the orientation itself.
    """
    scale = np.float32(_unit_scale(full))
    alpha = full[:, :, 3:4].astype(np.float32) / scale
    bgr = full[:, :, :3].astype(np.float32) / scale
    rgb = (bgr * alpha + (1.0 - alpha))[:, :, ::-1]
    target_shape = oriented.shape[:2]
    if orientation is not None:
        upright = _apply_orientation(rgb, orientation)
        if upright.shape[:2] == target_shape:
            return np.ascontiguousarray(upright, dtype=np.float32)
    target = oriented if oriented.shape[2] == 3 else np.repeat(oriented, 3, axis=2)
    colour = full[:, :, :3]
    if colour.dtype == target.dtype:
        for candidate_orientation in _EXIF_TRANSFORMS:
            candidate = _apply_orientation(colour, candidate_orientation)
            if candidate.shape == target.shape and np.array_equal(candidate, target):
                return np.ascontiguousarray(_apply_orientation(rgb, candidate_orientation), np.float32)
    # No exact match (a decoder that converts differently): keep the colours as stored.
    return np.ascontiguousarray(rgb, dtype=np.float32)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Decode an image file to float32 sRGB in [0, 1], shape ``(H, W, 3)``, RGB order.

    Decoding uses OpenCV (``cv2.imdecode`` on the file's bytes, so any path works). Handles 8- and
    16-bit files (scaled by 1/255 or 1/65535; float TIFFs are clipped to [0, 1]), grayscale files
    (replicated to three equal channels), the EXIF orientation tag (applied, so the array is upright),
    and alpha: **transparent pixels are composited over white** (straight alpha), never dropped to
    whatever colour hides under them.

    Raises:
        ImageError: empty file, not decodable (not an image, corrupt, truncated JPEG), unsupported pixel
            type, or smaller than :data:`MIN_IMAGE_SIDE` pixels on a side.
    """
    decoded = _decode(path)
    rgb = decoded.pixels.astype(np.float32) / np.float32(decoded.scale)
    if rgb.shape[2] == 1:
        rgb = np.repeat(rgb, 3, axis=2)
    return np.clip(rgb, 0.0, 1.0, out=rgb)


def _center_square(image: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    return image[top : top + side, left : left + side]


def prepare_rgb(rgb: np.ndarray, *, size: int) -> np.ndarray:
    """Centre-crop an RGB image ``(H, W, C)`` to a square and resize it to ``size`` × ``size`` pixels.

    Cropping (not padding) keeps every output pixel a real photo pixel: padding would add flat borders
    that are trivially "colourised" as grey and bias the loss. The long side loses
    ``(long - short) / 2`` pixels at each end. Resizing uses ``cv2.INTER_AREA`` (anti-aliased when
    shrinking). Returns float32 in the input's value range.
    """
    size = _check_size(size)
    square = _center_square(np.asarray(rgb))
    square = np.ascontiguousarray(square, dtype=np.float32)
    if square.shape[0] != size:
        square = cv2.resize(square, (size, size), interpolation=cv2.INTER_AREA)
        if square.ndim == 2:
            square = square[:, :, None]
    return square


# --------------------------------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------------------------------


def _check_size(size: Any) -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 8 <= size <= 4096:
        raise ValueError(f"size must be an int from 8 to 4096 (pixels), got {size!r}")
    return int(size)


def _check_split(split: Any) -> tuple[float, float, float]:
    try:
        fractions = tuple(float(x) for x in split)
    except (TypeError, ValueError):
        fractions = ()
    if (
        len(fractions) != 3
        or not all(math.isfinite(x) and x >= 0 for x in fractions)
        or fractions[0] <= 0
        or abs(sum(fractions) - 1.0) > 1e-6
    ):
        raise ValueError(
            "split must be three fractions (train, val, test), each >= 0, train > 0, summing to 1, "
            f"got {split!r}"
        )
    return fractions  # type: ignore[return-value]


def _check_lab_mode(lab_mode: Any) -> str:
    if lab_mode not in color.LAB_MODES:
        raise ValueError(f"lab_mode must be one of {color.LAB_MODES}, got {lab_mode!r}")
    return lab_mode


def _check_min_chroma(min_chroma: Any) -> float:
    try:
        value = float(min_chroma)
    except (TypeError, ValueError):
        value = float("nan")
    if isinstance(min_chroma, bool) or not (math.isfinite(value) and value >= 0):
        raise ValueError(
            f"min_chroma must be a finite number >= 0 (mean Lab chroma units), got {min_chroma!r}"
        )
    return value


# --------------------------------------------------------------------------------------------------
# Split
# --------------------------------------------------------------------------------------------------


def _hash_unit(key: str) -> float:
    """A stable number in [0, 1) from the SHA-1 of ``key`` (its first 8 bytes)."""
    return int.from_bytes(hashlib.sha1(key.encode("utf-8")).digest()[:8], "big") / 2.0**64


def _assign_splits(keys: Sequence[str], fractions: tuple[float, float, float]) -> list[int]:
    """Split index (0 train, 1 val, 2 test) per key.

    Each key's bucket ``u = sha1(key) ∈ [0, 1)`` falls in ``[0, f_train)`` → train,
    ``[f_train, f_train + f_val)`` → val, else test, so a key's split never depends on other keys.
    With 3 or more keys, every split with a positive fraction gets at least one key. In bucket order
    the splits are contiguous runs separated by two cuts, ``cut1`` (train|val) and ``cut2`` (val|test);
    ``cut1`` is clamped to ``[1, n - needed]`` and then ``cut2`` to ``[cut1 + need_val, n - need_test]``.
    In effect: an empty train takes the lowest-bucket key; an empty test takes the highest-bucket
    key; an empty val takes the next key in bucket order (the lowest-bucket test key, or the
    highest-bucket train key when test has only one). Only keys next to a cut move, and only while a
    split would otherwise be empty; once the hash split fills every split, nothing moves.
    """
    n = len(keys)
    units = [_hash_unit(k) for k in keys]
    f_train, f_val, f_test = fractions
    order = sorted(range(n), key=lambda i: (units[i], keys[i]))
    cut1 = sum(1 for u in units if u < f_train)
    cut2 = sum(1 for u in units if u < f_train + f_val) if f_test > 0 else n
    if n >= 3:
        need_val, need_test = int(f_val > 0), int(f_test > 0)
        cut1 = min(max(cut1, 1), n - need_val - need_test)
        cut2 = min(max(cut2, cut1 + need_val), n - need_test)
    assignment = [0] * n
    for rank, i in enumerate(order):
        assignment[i] = 0 if rank < cut1 else (1 if rank < cut2 else 2)
    return assignment


# --------------------------------------------------------------------------------------------------
# Fingerprint and cache
# --------------------------------------------------------------------------------------------------


def default_cache_dir() -> Path:
    """``$COLORSWEEP_CACHE`` if set, else ``~/.cache/colorsweep``."""
    env = os.environ.get("COLORSWEEP_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "colorsweep"


def _fingerprint(payload: dict[str, Any]) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _save_cache(path: Path, arrays: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, lambda handle: np.savez(handle, **arrays), binary=True)


def _load_cache(path: Path, fingerprint: str) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None  # unreadable or partial cache: rebuild it
    if str(arrays.get("fingerprint", np.array(""))) != fingerprint or not _CACHE_KEYS <= set(arrays):
        return None
    return arrays


def _names_array(names: Sequence[str]) -> np.ndarray:
    return np.array(list(names), dtype=str) if names else np.zeros((0,), dtype="<U1")


# --------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Item:
    key: str  # split key: path relative to its source root, or the demo tile name
    name: str  # display name (unique)
    load: Callable[[], tuple[_Decoded, str | None]]  # decoded image, grayscale reason or None


def _file_loader(path: Path) -> Callable[[], tuple[_Decoded, str | None]]:
    def load() -> tuple[_Decoded, str | None]:
        decoded = _decode(path)
        pixels = decoded.pixels
        if decoded.file_channels == 1:
            return decoded, "grayscale (single-channel file)"
        if np.array_equal(pixels[:, :, 0], pixels[:, :, 1]) and np.array_equal(
            pixels[:, :, 1], pixels[:, :, 2]
        ):
            return decoded, "grayscale (R == G == B in every pixel)"
        return decoded, None

    return load


def _process(item: _Item, *, size: int, lab_mode: str, min_chroma: float, pool_side: int | None = None):
    """Decode + validate + crop/resize + Lab one item: ``("ok", lab, (w, h), pool_image)`` or
    ``("skip", reason)``; ``pool_image`` is the photo for the training pool (None without ``pool_side``)."""
    try:
        decoded, gray_reason = item.load()
    except ImageError as exc:
        return ("skip", str(exc))
    except OSError as exc:
        return ("skip", f"cannot read file: {exc}")
    except (cv2.error, MemoryError) as exc:
        return ("skip", f"cannot decode: {type(exc).__name__}: {exc}")
    if gray_reason is not None:
        return ("skip", gray_reason)
    height, width = decoded.pixels.shape[:2]
    square = _center_square(decoded.pixels)  # crop before the float conversion: less to convert
    rgb = prepare_rgb(square.astype(np.float32) / np.float32(decoded.scale), size=size)
    rgb = np.clip(rgb, 0.0, 1.0, out=rgb)
    lab = color.rgb_to_lab(rgb, lab_mode=lab_mode)
    chroma = float(np.mean(np.hypot(lab[..., 1], lab[..., 2])))
    if chroma < min_chroma:
        return ("skip", f"no colour: mean chroma {chroma:.2f} < min_chroma {min_chroma:g}")
    pooled = None
    if pool_side is not None:
        pixels = decoded.pixels if decoded.pixels.shape[2] == 3 else np.repeat(decoded.pixels, 3, axis=2)
        pooled = sampling.pool_image(pixels, decoded.scale, pool_side)
    return ("ok", lab, (width, height), pooled)


def _file_items(pairs: list[tuple[Path, Path]]) -> list[_Item]:
    roots = list(dict.fromkeys(root for root, _ in pairs))
    labels: dict[Path, str] = {}
    if len(roots) > 1:  # several sources: prefix names with the source folder's name to keep them unique
        for i, root in enumerate(roots):
            label = root.name or f"source{i}"
            labels[root] = label if label not in labels.values() else f"{label}~{i}"
    items = []
    for root, path in pairs:
        key = path.relative_to(root).as_posix()
        name = f"{labels[root]}/{key}" if labels else key
        items.append(_Item(key=key, name=name, load=_file_loader(path)))
    return items


def _demo_items(size: int, pool_side: int | None = None) -> tuple[list[_Item], list[tuple[int, int]]]:
    """The demo tiles as items, decoded at ``size`` (or at ``pool_side`` when larger: the training pool
    keeps each training tile at that side, and the ``size`` sample is shrunk from it)."""
    from colorize_core import demo

    items = []
    for name, rgb in demo.demo_tiles(max(size, pool_side or 0)):
        decoded = _Decoded(rgb, 1.0, 3)
        items.append(_Item(key=name, name=name, load=lambda d=decoded: (d, None)))
    return items, list(demo.demo_source_sizes())


def _resolve_source(source: Any) -> str | list[str | os.PathLike]:
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
            raise ValueError(
                f'source "demo" cannot be combined with folders (use ./demo for a folder named demo), '
                f"got {source!r}"
            )
        return list(source)
    raise ValueError(
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
        raise ValueError(f"progress must be a callable(done, total) or None, got {progress!r}")
    if not (pool_side is None or pool_side == "auto" or (
        isinstance(pool_side, (int, np.integer)) and not isinstance(pool_side, bool) and size <= pool_side <= 4096
    )):
        raise ValueError(f'pool_side must be "auto", None, or an int from size ({size}) to 4096 pixels, '
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
        raise ValueError(
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


# --------------------------------------------------------------------------------------------------
# Augmentation
# --------------------------------------------------------------------------------------------------


def augment_batch(
    lightness: np.ndarray,
    ab: np.ndarray,
    *,
    rng: np.random.Generator,
    min_scale: float = 0.6,
    flip: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Random horizontal flip and random crop per image, the same transform on L and ab.

    Each image is flipped left-right with probability 1/2 (if ``flip``), then a window of
    ``s`` × its height and width, ``s`` uniform in [``min_scale``, 1], at a uniform random position,
    is resized back to the full size with ``cv2.INTER_LINEAR``. Values are only moved and linearly
    interpolated, so any units work: Lab units or the model's encoding (``color.encode_l`` /
    ``encode_ab``).

    Args:
        lightness: ``(N, H, W, 1)``, e.g. L in [0, 100].
        ab: ``(N, H, W, 2)``, e.g. a/b in Lab units.
        rng: a ``numpy.random.Generator`` (the only randomness used).
        min_scale: smallest crop side as a fraction of the image side, in (0, 1].
        flip: allow horizontal flips.

    Returns:
        New float32 arrays ``(lightness, ab)`` of the input shapes.
    """
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    lightness = np.asarray(lightness, dtype=np.float32)
    ab = np.asarray(ab, dtype=np.float32)
    if lightness.ndim != 4 or lightness.shape[-1] != 1:
        raise ValueError(f"lightness must have shape (N, H, W, 1), got {lightness.shape}")
    if ab.ndim != 4 or ab.shape[-1] != 2 or ab.shape[:3] != lightness.shape[:3]:
        raise ValueError(
            f"ab must have shape (N, H, W, 2) matching lightness {lightness.shape}, got {ab.shape}"
        )
    if not 0.0 < float(min_scale) <= 1.0:
        raise ValueError(f"min_scale must be in (0, 1], got {min_scale!r}")
    n, height, width = lightness.shape[:3]
    out = np.concatenate([lightness, ab], axis=-1)
    for i in range(n):
        image = out[i]
        if flip and rng.random() < 0.5:
            image = image[:, ::-1]
        scale = rng.uniform(min_scale, 1.0)
        crop_h = max(1, min(height, int(round(scale * height))))
        crop_w = max(1, min(width, int(round(scale * width))))
        top = int(rng.integers(0, height - crop_h + 1))
        left = int(rng.integers(0, width - crop_w + 1))
        window = np.ascontiguousarray(image[top : top + crop_h, left : left + crop_w])
        if (crop_h, crop_w) != (height, width):
            window = cv2.resize(window, (width, height), interpolation=cv2.INTER_LINEAR)
        out[i] = window
    return np.ascontiguousarray(out[..., :1]), np.ascontiguousarray(out[..., 1:])


# --------------------------------------------------------------------------------------------------
# Inspection
# --------------------------------------------------------------------------------------------------


def _stats(values: Sequence[int]) -> dict[str, float | int | None]:
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
