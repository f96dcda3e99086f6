"""Training samples drawn from whole photos: random crops at random scale and position, flipped,
resized to the model's input size and converted to Lab.

Why: a few hundred photos seen as one fixed centre crop each are learned by heart in a few epochs
(vivid and wrong on new photos). Kept at a *working resolution* (:class:`PhotoPool`, short side about
4 × the model's size) and sampled afresh every step, the same photos give many different views, and
an epoch can be a fixed number of samples (``TrainConfig.samples_per_epoch``) whatever the number of
photos, so ASHA's rungs compare the same amount of training on every data set.

A sample is made exactly like a validation crop (:mod:`colorize_core.data`): a square of the photo,
resized with ``cv2.INTER_AREA`` to ``size`` × ``size``, then ``color.rgb_to_lab``. Only the square's
side and position differ: side ``s`` × the photo's short side with ``s`` uniform in
[:data:`MIN_CROP_SCALE`, 1] (never fewer pixels than ``size``, unless the photo itself is smaller),
at a uniform random position, flipped left-right with probability 1/2. Validation and test keep their
fixed centre crops, so every metric means what it meant before.

Memory: the pool holds 8-bit sRGB, 3 bytes per pixel. Its side is chosen by :func:`pool_side_for`:
``min(4 × size, 512)`` pixels on the short side, long side at most 2 × the short side (centre-cropped
beyond), then lowered so that the whole pool stays under :data:`POOL_BUDGET_BYTES` (env
``COLORSWEEP_POOL_MB``), never below ``size``. 134 photos at 64 px: short side 256, about 40 MB.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import cv2
import numpy as np

from colorize_core.errors import InvalidValueError
from colorize_core import color

__all__ = [
    "MIN_CROP_SCALE",
    "POOL_SIDE_FACTOR",
    "POOL_MAX_SIDE",
    "POOL_MAX_ASPECT",
    "POOL_BUDGET_BYTES",
    "PhotoPool",
    "pool_side_for",
    "pool_image",
    "sample_crops",
]

#: Smallest crop side, as a fraction of the photo's short side (at the default pool side of
#: 4 × size, a 1/4 crop is the model's input at the pool's own resolution).
MIN_CROP_SCALE = 0.25
#: The pool's short side is this many times the model's input size ...
POOL_SIDE_FACTOR = 4
#: ... but at most this many pixels.
POOL_MAX_SIDE = 512
#: A photo's long side is centre-cropped to at most this many times its short side (panoramas).
POOL_MAX_ASPECT = 2.0
#: Default ceiling on the pool's bytes (8-bit RGB); ``COLORSWEEP_POOL_MB`` overrides it.
POOL_BUDGET_BYTES = 1 << 30
POOL_BUDGET_ENV = "COLORSWEEP_POOL_MB"


def pool_budget_bytes() -> int:
    """The pool's byte ceiling: ``$COLORSWEEP_POOL_MB`` mebibytes if set (a positive number), else
    :data:`POOL_BUDGET_BYTES`. Raises ValueError naming the variable when it is not a positive number."""
    text = os.environ.get(POOL_BUDGET_ENV)
    if not text:
        return POOL_BUDGET_BYTES
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (math.isfinite(value) and value > 0):
        raise InvalidValueError(f"{POOL_BUDGET_ENV} must be a positive number of MiB, got {text!r}")
    return int(value * 2**20)


def pool_side_for(size: int, n_images: int, *, budget_bytes: int | None = None) -> int:
    """The pool's short side in pixels for ``n_images`` training photos and model input ``size``.

    ``min(POOL_SIDE_FACTOR × size, POOL_MAX_SIDE)``, lowered until ``n_images`` photos of the widest
    kept shape (short × :data:`POOL_MAX_ASPECT` short, 3 bytes a pixel) fit in ``budget_bytes``
    (default :func:`pool_budget_bytes`), and never below ``size``.
    """
    budget = pool_budget_bytes() if budget_bytes is None else int(budget_bytes)
    side = max(int(size), min(POOL_SIDE_FACTOR * int(size), POOL_MAX_SIDE))
    if n_images > 0:
        fitting = int(math.sqrt(budget / (n_images * 3 * POOL_MAX_ASPECT)))
        side = min(side, fitting)
    return max(int(size), side)


def pool_image(pixels: np.ndarray, scale: float, side: int) -> np.ndarray:
    """One photo for the pool: ``pixels`` (H, W, 3) of any numeric type, ``scale`` its white value
    (255, 65535 or 1.0), returned as uint8 sRGB with short side ``side`` (never enlarged) and long
    side at most :data:`POOL_MAX_ASPECT` × short (centre-cropped)."""
    height, width = pixels.shape[:2]
    short = min(height, width)
    max_long = int(POOL_MAX_ASPECT * short)
    if height > max_long:
        top = (height - max_long) // 2
        pixels = pixels[top:top + max_long]
    elif width > max_long:
        left = (width - max_long) // 2
        pixels = pixels[:, left:left + max_long]
    height, width = pixels.shape[:2]
    if short > side:
        factor = side / short
        if height <= width:
            new = (max(side, round(width * factor)), side)  # cv2 sizes are (width, height)
        else:
            new = (side, max(side, round(height * factor)))
        rgb = np.ascontiguousarray(pixels, dtype=np.float32) / np.float32(scale)
        pixels = cv2.resize(rgb, new, interpolation=cv2.INTER_AREA)
        scale = 1.0
    rgb = np.asarray(pixels, dtype=np.float32) * np.float32(255.0 / scale)
    return np.ascontiguousarray(np.clip(np.rint(rgb), 0, 255).astype(np.uint8))


@dataclass(frozen=True)
class PhotoPool:
    """The training photos at working resolution, 8-bit sRGB, stored flat (photos differ in shape).

    Attributes:
        pixels: ``(total,)`` uint8, the photos' ``(H, W, 3)`` arrays one after another.
        shapes: ``(N, 2)`` int64, each photo's (height, width) in pixels.
        names: the photos' names (those of the training split they come from).
        side: the short side asked for, pixels (smaller photos are kept at their own size).
    """

    pixels: np.ndarray
    shapes: np.ndarray
    names: tuple[str, ...]
    side: int

    def __post_init__(self) -> None:
        shapes = np.asarray(self.shapes, dtype=np.int64).reshape(-1, 2)
        if len(shapes) != len(self.names):
            raise InvalidValueError(f"PhotoPool has {len(shapes)} shapes but {len(self.names)} names")
        if int(np.sum(shapes[:, 0] * shapes[:, 1] * 3)) != self.pixels.size:
            raise InvalidValueError("PhotoPool pixels do not match its shapes")
        object.__setattr__(self, "shapes", shapes)
        ends = np.cumsum(shapes[:, 0] * shapes[:, 1] * 3)
        object.__setattr__(self, "_starts", np.concatenate([[0], ends[:-1]]).astype(np.int64))

    @classmethod
    def from_images(cls, images: list[np.ndarray], names: list[str] | tuple[str, ...], side: int) -> "PhotoPool":
        """Pack uint8 ``(H, W, 3)`` images (from :func:`pool_image`)."""
        shapes = np.array([im.shape[:2] for im in images], dtype=np.int64).reshape(-1, 2)
        flat = np.concatenate([im.reshape(-1) for im in images]) if images else np.zeros((0,), np.uint8)
        return cls(pixels=flat.astype(np.uint8, copy=False), shapes=shapes, names=tuple(names), side=int(side))

    def __len__(self) -> int:
        return len(self.names)

    @property
    def nbytes(self) -> int:
        """Bytes of pixel data."""
        return int(self.pixels.nbytes)

    def image(self, index: int) -> np.ndarray:
        """Photo ``index`` as a read-only-safe ``(H, W, 3)`` uint8 view."""
        height, width = (int(v) for v in self.shapes[index])
        start = int(self._starts[index])
        return self.pixels[start:start + height * width * 3].reshape(height, width, 3)


def _crop(image: np.ndarray, size: int, rng: np.random.Generator, min_scale: float, flip: bool) -> np.ndarray:
    height, width = image.shape[:2]
    short = min(height, width)
    side = int(round(rng.uniform(min_scale, 1.0) * short))
    side = min(short, max(side, min(size, short), 1))
    top = int(rng.integers(0, height - side + 1))
    left = int(rng.integers(0, width - side + 1))
    window = image[top:top + side, left:left + side]
    if flip and rng.random() < 0.5:
        window = window[:, ::-1]
    window = np.ascontiguousarray(window, dtype=np.float32)
    if side != size:
        interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
        window = cv2.resize(window, (size, size), interpolation=interpolation)
    return window


def sample_crops(
    pool: PhotoPool,
    count: int,
    size: int,
    *,
    rng: np.random.Generator,
    lab_mode: str = "float",
    min_scale: float = MIN_CROP_SCALE,
    flip: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` random training samples from ``pool``: photos drawn uniformly with replacement, one
    random square crop each (see the module doc), resized to ``size`` × ``size``.

    Returns float32 ``(lightness (count, size, size, 1), ab (count, size, size, 2))`` in Lab units.
    """
    if len(pool) == 0:
        raise InvalidValueError("the photo pool is empty: the training split has no photos")
    if not isinstance(rng, np.random.Generator):
        raise InvalidValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if not 0.0 < float(min_scale) <= 1.0:
        raise InvalidValueError(f"min_scale must be in (0, 1], got {min_scale!r}")
    picks = rng.integers(0, len(pool), size=int(count))
    rgb = np.empty((int(count), int(size), int(size), 3), np.float32)
    for i, index in enumerate(picks):
        rgb[i] = _crop(pool.image(int(index)), int(size), rng, float(min_scale), flip)
    rgb *= np.float32(1.0 / 255.0)
    lab = color.rgb_to_lab(rgb, lab_mode=lab_mode)
    return np.ascontiguousarray(lab[..., :1]), np.ascontiguousarray(lab[..., 1:])


def pool_ab(pool: PhotoPool, *, lab_mode: str = "float", short_side: int = 64) -> np.ndarray:
    """The ab pixels of every pool photo, each shrunk to ``short_side`` (for colour statistics such as
    the classification loss's rebalancing weights): ``(P, 2)`` float32 in Lab units."""
    parts = []
    for index in range(len(pool)):
        image = pool.image(index)
        height, width = image.shape[:2]
        factor = min(1.0, short_side / min(height, width))
        rgb = np.ascontiguousarray(image, dtype=np.float32) * np.float32(1.0 / 255.0)
        if factor < 1.0:
            rgb = cv2.resize(rgb, (max(1, round(width * factor)), max(1, round(height * factor))),
                             interpolation=cv2.INTER_AREA)
        parts.append(color.rgb_to_lab(rgb, lab_mode=lab_mode)[..., 1:].reshape(-1, 2))
    if not parts:
        raise InvalidValueError("the photo pool is empty: the training split has no photos")
    return np.concatenate(parts).astype(np.float32)
