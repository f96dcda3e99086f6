"""Turn one source image into one sample: decode, reject grayscale, centre-crop, resize, convert to Lab.

An :class:`_Item` is one image to load (a file, or a demo tile); :func:`_process` makes its
``size`` × ``size`` Lab sample and, for the training pool, the photo kept whole at a working resolution.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from colorize_core.errors import InvalidValueError
from colorize_core import color, sampling
from colorize_core.data.image_io import ImageError, _decode, _Decoded

__all__ = ["prepare_rgb"]


def _center_square(image: np.ndarray) -> np.ndarray:
    """The largest centred square of ``image`` ``(H, W, ...)``, a view (no copy)."""
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


def _check_size(size: Any) -> int:
    """``size`` as an int if it is a whole number of pixels from 8 to 4096; else ValueError."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 8 <= size <= 4096:
        raise InvalidValueError(f"size must be an int from 8 to 4096 (pixels), got {size!r}")
    return int(size)


@dataclass(frozen=True)
class _Item:
    """One image to load: its split key, its display name and how to decode it."""

    key: str  # split key: path relative to its source root, or the demo tile name
    name: str  # display name (unique)
    load: Callable[[], tuple[_Decoded, str | None]]  # decoded image, grayscale reason or None


def _file_loader(path: Path) -> Callable[[], tuple[_Decoded, str | None]]:
    """A loader for the image file at ``path``: its decode and why it is grayscale (None if colour)."""
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
    """An item per ``(source_root, file)`` pair, named by its path (prefixed by the source folder when several)."""
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
