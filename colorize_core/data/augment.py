"""Random flips and crops of training batches, the same transform on L and ab (:func:`augment_batch`)."""

from __future__ import annotations

import cv2
import numpy as np

from colorize_core.errors import InvalidValueError

__all__ = ["augment_batch"]


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
        raise InvalidValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    lightness = np.asarray(lightness, dtype=np.float32)
    ab = np.asarray(ab, dtype=np.float32)
    if lightness.ndim != 4 or lightness.shape[-1] != 1:
        raise InvalidValueError(f"lightness must have shape (N, H, W, 1), got {lightness.shape}")
    if ab.ndim != 4 or ab.shape[-1] != 2 or ab.shape[:3] != lightness.shape[:3]:
        raise InvalidValueError(
            f"ab must have shape (N, H, W, 2) matching lightness {lightness.shape}, got {ab.shape}"
        )
    if not 0.0 < float(min_scale) <= 1.0:
        raise InvalidValueError(f"min_scale must be in (0, 1], got {min_scale!r}")
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
