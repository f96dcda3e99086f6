"""Predicted colour (ab) brought from the model's resolution to a photo's full resolution.

A model predicts ab at its own input scale (short side 64 px for the default sweep's models); a photo
may be 30 times larger. Resizing ab on its own (bicubic) blurs every colour edge over many pixels of
the full-size photo, so colour bleeds across the outlines that the photo's lightness shows sharply.

``guided`` (the default of :func:`colorize_core.predict.colorize_rgb`) is He & Sun's *fast guided
filter* (2015; the guided filter of He, Sun & Tang 2010): in each small window of the low-resolution
view, ab is fitted as a linear function of the view's lightness, ``ab ≈ A·L + B``; the coefficients A
and B are smoothed, resized to full size (bilinear) and applied to the full-resolution lightness. Where
lightness has an edge, the colour follows it; where lightness is flat, A is near 0 and the colour is
the smoothed prediction. ``eps`` keeps A small where the view's lightness hardly varies, so that noise
or grain of the full-size photo does not become colour noise.

Not :func:`colorize_core.classification.upsample_ab`, which resizes a classification model's ab
from its output stride to its input size during training and validation, with no guide.

Units: L in [0, 100] (CIELAB; scaled to [0, 1] inside), ab in Lab units, ``radius`` in pixels of the
low-resolution view, ``eps`` in (L / 100)² (1e-3: a lightness standard deviation of about 3 L units).
Measured on whole held-out photos (BENCHMARKS.md, "Colorizing a full-resolution photo: colour edges").
"""

from __future__ import annotations

import cv2
import numpy as np

from colorize_core.errors import InvalidValueError

__all__ = ["AB_UPSAMPLING", "GUIDED_RADIUS", "GUIDED_EPS", "check_upsampling", "ab_to_full_size"]

AB_UPSAMPLING = ("guided", "bicubic")
"""How :func:`ab_to_full_size` resizes ab: guided by the full-resolution lightness, or on its own."""

GUIDED_RADIUS = 2
"""Window radius of the guided filter, pixels of the low-resolution view (a 5×5 window)."""

GUIDED_EPS = 1e-3
"""Regularisation of the guided filter, (L / 100)²: how much lightness variation a window needs before
its colour follows lightness."""


def check_upsampling(method) -> str:
    """``method`` if it is one of :data:`AB_UPSAMPLING`, else an error that names them."""
    if method not in AB_UPSAMPLING:
        raise InvalidValueError(f"ab upsampling must be one of {', '.join(AB_UPSAMPLING)}, got {method!r}")
    return method


def _box_mean(x: np.ndarray, radius: int) -> np.ndarray:
    """Mean over the (2·radius + 1)² window around each pixel, edges reflected."""
    size = 2 * radius + 1
    return cv2.boxFilter(x, -1, (size, size), normalize=True, borderType=cv2.BORDER_REFLECT)


def ab_to_full_size(
    ab_low: np.ndarray, lightness_low: np.ndarray, lightness_full: np.ndarray, *, method: str = "guided",
    radius: int = GUIDED_RADIUS, eps: float = GUIDED_EPS,
) -> np.ndarray:
    """ab ``(h, w, 2)`` predicted for the view whose lightness is ``lightness_low`` ``(h, w)`` → ab at the
    full resolution of ``lightness_full`` ``(H, W)``, float32, Lab units (not clipped).

    ``method``: ``"guided"`` (colour edges follow the full-resolution lightness; see the module
    docstring) or ``"bicubic"`` (ab resized on its own, ``cv2.INTER_CUBIC``). A full resolution no
    larger than the view's needs no guide: ab is returned as it is, or resized down (bicubic).
    """
    check_upsampling(method)
    ab_low = np.asarray(ab_low, dtype=np.float32)
    height, width = np.shape(lightness_full)[:2]
    if ab_low.shape[:2] != np.shape(lightness_low)[:2]:
        raise InvalidValueError(f"ab {ab_low.shape[:2]} and its lightness {np.shape(lightness_low)[:2]} differ in shape")
    if method == "bicubic" or (height <= ab_low.shape[0] and width <= ab_low.shape[1]):
        # nothing to bring up to a finer resolution: the prediction is used as it is (or made smaller)
        if ab_low.shape[:2] == (height, width):
            return ab_low.copy()
        return cv2.resize(ab_low, (width, height), interpolation=cv2.INTER_CUBIC)
    guide = np.asarray(lightness_low, dtype=np.float32) / 100.0
    mean_l = _box_mean(guide, radius)
    var_l = _box_mean(guide * guide, radius) - mean_l * mean_l
    full = np.asarray(lightness_full, dtype=np.float32) / 100.0
    out = np.empty((height, width, 2), dtype=np.float32)
    for channel in range(2):
        p = np.ascontiguousarray(ab_low[..., channel])
        mean_p = _box_mean(p, radius)
        slope = (_box_mean(guide * p, radius) - mean_l * mean_p) / (np.maximum(var_l, 0.0) + eps)
        offset = mean_p - slope * mean_l
        slope = cv2.resize(_box_mean(slope, radius), (width, height), interpolation=cv2.INTER_LINEAR)
        offset = cv2.resize(_box_mean(offset, radius), (width, height), interpolation=cv2.INTER_LINEAR)
        out[..., channel] = slope * full + offset
    return out
