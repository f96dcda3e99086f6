"""Built-in demo data: colour photographs shipped inside the scikit-image and scikit-learn wheels.

Nothing is downloaded, ever: the files are read straight from the installed packages' folders (no
``skimage.data`` fetcher / pooch call, no Pillow needed), and a photo whose file is missing is skipped.

Photos: scikit-image's ``astronaut``, ``chelsea``, ``coffee``, ``rocket``, and the stereo pair
``motorcycle_left`` / ``motorcycle_right``; scikit-learn's sample images ``china`` and ``flower``.
Eight photos are too few to train on, so :func:`demo_tiles` cuts each into many square crops at a few
scales (``"astronaut#tile012"``), about 24 per photo: ~190 samples.

Caveat: tiles of one photo overlap and are split independently (by the hash of the tile name), so the
demo's val/test scores are optimistic. The demo is for smoke runs and comparisons, not for claims.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
from pathlib import Path

import cv2
import numpy as np

from colorize_core.errors import InvalidValueError

__all__ = [
    "DEMO_PHOTOS",
    "DEFAULT_TILES_PER_IMAGE",
    "TILE_SCALES",
    "demo_images",
    "demo_tiles",
    "demo_source_sizes",
    "demo_fingerprint_info",
]

#: (name, distribution's import package, file path inside that package).
DEMO_PHOTOS: tuple[tuple[str, str, str], ...] = (
    ("astronaut", "skimage", "data/astronaut.png"),
    ("chelsea", "skimage", "data/chelsea.png"),
    ("coffee", "skimage", "data/coffee.png"),
    ("rocket", "skimage", "data/rocket.jpg"),
    ("motorcycle_left", "skimage", "data/motorcycle_left.png"),
    ("motorcycle_right", "skimage", "data/motorcycle_right.png"),
    ("china", "sklearn", "datasets/images/china.jpg"),
    ("flower", "sklearn", "datasets/images/flower.jpg"),
)

#: Tiles cut from each photo by default (8 photos × 24 = 192 samples).
DEFAULT_TILES_PER_IMAGE = 24

#: Crop sides as fractions of each photo's short side.
TILE_SCALES = (1.0, 0.7, 0.5, 0.35)

#: Bump when the tiling changes (it is part of the demo data fingerprint).
DEMO_VERSION = 1

_DISTRIBUTIONS = {"skimage": "scikit-image", "sklearn": "scikit-learn"}


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)  # locates a top-level package without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def _photo_paths() -> list[tuple[str, Path]]:
    found = []
    for name, package, relative in DEMO_PHOTOS:
        folder = _package_dir(package)
        if folder is not None and (folder / relative).is_file():
            found.append((name, folder / relative))
    return found


@functools.lru_cache(maxsize=1)
def _load_all() -> tuple[tuple[str, np.ndarray], ...]:
    from colorize_core.data.image_io import ImageError, read_image

    images = []
    for name, path in _photo_paths():
        try:
            rgb = read_image(path)
        except ImageError:
            continue
        rgb.flags.writeable = False  # shared by every caller through the cache
        images.append((name, rgb))
    if not images:
        raise RuntimeError(
            "no demo photo found: scikit-image and scikit-learn must be installed with their "
            f"bundled sample images ({', '.join(n for n, _, _ in DEMO_PHOTOS)})"
        )
    return tuple(images)


def demo_images() -> list[tuple[str, np.ndarray]]:
    """The demo photos as ``(name, rgb)``: float32 sRGB in [0, 1], ``(H, W, 3)``, read-only arrays.

    Photos missing from the installed packages are skipped. Raises RuntimeError if none is found.
    """
    return list(_load_all())


def demo_source_sizes() -> list[tuple[int, int]]:
    """``(width, height)`` in pixels of each demo photo, in :func:`demo_images` order."""
    return [(rgb.shape[1], rgb.shape[0]) for _, rgb in _load_all()]


def _windows(height: int, width: int, name: str, tiles: int) -> list[tuple[int, int, int]]:
    """``tiles`` square windows ``(top, left, side)``: an even share per scale, grid positions with 50 %
    overlap, chosen within a scale by a stable hash so that they spread over the photo."""
    short = min(height, width)
    per_scale = [tiles // len(TILE_SCALES)] * len(TILE_SCALES)
    for i in range(tiles % len(TILE_SCALES)):  # the remainder goes to the smallest scales
        per_scale[-1 - i] += 1
    chosen: list[tuple[int, int, int]] = []
    carry = 0
    for scale, quota in zip(TILE_SCALES, per_scale):
        side = max(1, int(round(scale * short)))
        step = max(1, side // 2)
        rows = np.unique(np.linspace(0, height - side, max(1, -(-(height - side) // step) + 1)).round())
        cols = np.unique(np.linspace(0, width - side, max(1, -(-(width - side) // step) + 1)).round())
        grid = [(int(t), int(c), side) for t in rows for c in cols]
        grid.sort(key=lambda w: hashlib.sha1(f"{name}:{w}".encode()).digest())
        take = min(len(grid), quota + carry)
        carry = quota + carry - take  # a scale with too few positions passes its share on
        chosen.extend(grid[:take])
    return chosen


def demo_tiles(
    size: int, *, tiles_per_image: int = DEFAULT_TILES_PER_IMAGE
) -> list[tuple[str, np.ndarray]]:
    """Square crops of every demo photo at several scales, each resized to ``size`` × ``size``.

    Windows: :data:`TILE_SCALES` of the photo's short side on grids with 50 % overlap, an even share
    of ``tiles_per_image`` per scale (fewer if a small photo has fewer distinct positions); resized
    with ``cv2.INTER_AREA``.

    Returns:
        ``(name, rgb)`` pairs, names like ``"astronaut#tile012"``, rgb float32 in [0, 1]
        ``(size, size, 3)``.
    """
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 8 <= size <= 4096:
        raise InvalidValueError(f"size must be an int from 8 to 4096 (pixels), got {size!r}")
    if isinstance(tiles_per_image, bool) or not isinstance(tiles_per_image, (int, np.integer)) or not (
        1 <= tiles_per_image <= 1000
    ):
        raise InvalidValueError(f"tiles_per_image must be an int from 1 to 1000, got {tiles_per_image!r}")
    tiles = []
    for name, rgb in _load_all():
        height, width = rgb.shape[:2]
        for index, (top, left, side) in enumerate(_windows(height, width, name, int(tiles_per_image))):
            crop = np.ascontiguousarray(rgb[top : top + side, left : left + side])
            tile = cv2.resize(crop, (int(size), int(size)), interpolation=cv2.INTER_AREA)
            tiles.append((f"{name}#tile{index:03d}", np.clip(tile, 0.0, 1.0).astype(np.float32)))
    return tiles


def demo_fingerprint_info() -> dict[str, object]:
    """What identifies the demo data in a cache fingerprint: photo list, tiling, library versions."""
    versions = {}
    for package, distribution in _DISTRIBUTIONS.items():
        try:
            versions[distribution] = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            versions[distribution] = None
    return {
        "demo_version": DEMO_VERSION,
        "photos": [name for name, _ in _photo_paths()],
        "tiles_per_image": DEFAULT_TILES_PER_IMAGE,
        "tile_scales": list(TILE_SCALES),
        **versions,
    }
