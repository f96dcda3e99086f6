"""The one place for colour conventions: CIELAB conversion and the model's normalisation.

Units used everywhere in colorsweep:

* **RGB** is float32 sRGB in ``[0, 1]``, channel order R, G, B (OpenCV's BGR never leaves
  :mod:`colorize_core.data`).
* **Lab** is float32 CIELAB (D65) in real units: ``L`` in ``[0, 100]``, ``a`` and ``b`` in about
  ``[-128, 127]``. Cached data, metrics and predictions all use these units.
* **Model input** is ``L / 100`` in ``[0, 1]`` (:func:`encode_l`).
* **Model target / output** is ``(ab + 128) / 255`` in ``[0, 1]``, neutral grey at ``128 / 255 ≈ 0.502``
  (:func:`encode_ab`; inverse :func:`decode_ab`). This is the study's scaling, kept so that the six
  study architectures' output activations (ReLU, tanh, sigmoid) mean what they meant there.

Two conversion modes (``lab_mode``):

* ``"float"`` (default): float32 RGB → float32 Lab, no quantisation.
* ``"seed"``: reproduces the study exactly: RGB is rounded to uint8, converted with OpenCV's 8-bit Lab
  (``L·255/100``, ``a+128``, ``b+128``, each rounded to an integer), then mapped back to real units.
  After :func:`encode_l` / :func:`encode_ab` this equals the study's "uint8 Lab / 255" arrays; it loses
  up to ~2.8 ab units against the float path.
"""

from __future__ import annotations

import cv2
import numpy as np

from colorize_core.errors import InvalidValueError

__all__ = [
    "LAB_MODES",
    "AB_NEUTRAL_ENCODED",
    "rgb_to_lab",
    "lab_to_rgb",
    "fit_to_gamut",
    "encode_l",
    "decode_l",
    "encode_ab",
    "decode_ab",
    "merge_lab",
    "gray_ab",
]

LAB_MODES = ("float", "seed")
AB_OFFSET = 128.0
AB_SCALE = 255.0
L_SCALE = 100.0
AB_MIN, AB_MAX = -128.0, 127.0
AB_NEUTRAL_ENCODED = AB_OFFSET / AB_SCALE  # what a model outputs for neutral grey


def _check_mode(lab_mode: str) -> None:
    if lab_mode not in LAB_MODES:
        raise InvalidValueError(f"lab_mode must be one of {LAB_MODES}, got {lab_mode!r}")


def _apply_per_image(fn, array: np.ndarray) -> np.ndarray:
    """Apply an OpenCV (H, W, 3) colour conversion to an image or a batch (..., H, W, 3)."""
    array = np.ascontiguousarray(array)
    if array.ndim < 3 or array.shape[-1] != 3:
        raise InvalidValueError(f"expected an array of shape (..., H, W, 3), got shape {array.shape}")
    if array.ndim == 3:
        return fn(array)
    height, width = array.shape[-3], array.shape[-2]
    flat = array.reshape(-1, width, 3)  # stack images vertically: conversion is per pixel
    return fn(flat).reshape(array.shape[:-3] + (height, width, 3))


def rgb_to_lab(rgb: np.ndarray, *, lab_mode: str = "float") -> np.ndarray:
    """Convert sRGB in [0, 1] (float, ``(..., H, W, 3)``) to float32 Lab in real units.

    ``lab_mode="seed"`` goes through OpenCV's 8-bit Lab like the original study (see module doc).
    """
    _check_mode(lab_mode)
    rgb = np.asarray(rgb)
    if lab_mode == "float":
        rgb32 = np.clip(rgb.astype(np.float32, copy=False), 0.0, 1.0)
        return _apply_per_image(lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2Lab), rgb32)
    rgb8 = np.clip(np.rint(rgb.astype(np.float64) * 255.0), 0, 255).astype(np.uint8)
    lab8 = _apply_per_image(lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2Lab), rgb8).astype(np.float32)
    lab = np.empty_like(lab8)
    lab[..., 0] = lab8[..., 0] * (L_SCALE / 255.0)
    lab[..., 1:] = lab8[..., 1:] - AB_OFFSET
    return lab


def lab_to_rgb(lab: np.ndarray, *, fit_gamut: bool = False) -> np.ndarray:
    """Convert float Lab in real units (``(..., H, W, 3)``) to float32 sRGB in [0, 1].

    Colours outside the sRGB gamut are clipped channel by channel (OpenCV), which changes their
    lightness and hue; with ``fit_gamut`` their chroma is reduced first (:func:`fit_to_gamut`), so
    every pixel keeps its L and hue. Metrics use the plain conversion; pictures meant for people
    (colorized photos, report figures) use ``fit_gamut=True``.
    """
    lab32 = np.asarray(lab, dtype=np.float32)
    if fit_gamut:
        lab32 = fit_to_gamut(lab32)
    rgb = _apply_per_image(lambda im: cv2.cvtColor(im, cv2.COLOR_Lab2RGB), lab32)
    return np.clip(rgb, 0.0, 1.0)


# D65 white and the XYZ -> linear sRGB matrix, as OpenCV's Lab conversion uses them.
_WHITE_X, _WHITE_Z = 0.950456, 1.088754
_XYZ_TO_LINEAR_RGB = (
    (3.240479, -1.537150, -0.498535),
    (-0.969256, 1.875992, 0.041556),
    (0.055648, -0.204043, 1.057311),
)
_GAMUT_TOLERANCE = 1e-3  # linear-RGB slack: what 8-bit output cannot show anyway


def _f_inverse(t: np.ndarray) -> np.ndarray:
    """Inverse of CIELAB's companding function f (t = f(X/Xn) etc.)."""
    delta = np.float32(6.0 / 29.0)
    return np.where(t > delta, t * t * t, np.float32(3.0 * (6.0 / 29.0) ** 2) * (t - np.float32(4.0 / 29.0)))


def _in_gamut(fy: np.ndarray, y: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether Lab pixels (given as CIELAB's fy, relative luminance Y, a, b; all ``(N,)``) lie in the
    sRGB gamut: their unclipped linear RGB is within [0, 1] up to :data:`_GAMUT_TOLERANCE`."""
    x = _WHITE_X * _f_inverse(fy + a / np.float32(500.0))
    z = _WHITE_Z * _f_inverse(fy - b / np.float32(200.0))
    inside = np.ones(fy.shape, dtype=bool)
    for mx, my, mz in _XYZ_TO_LINEAR_RGB:
        channel = np.float32(mx) * x + np.float32(my) * y + np.float32(mz) * z
        inside &= (channel >= -_GAMUT_TOLERANCE) & (channel <= 1.0 + _GAMUT_TOLERANCE)
    return inside


def fit_to_gamut(lab: np.ndarray, *, steps: int = 8) -> np.ndarray:
    """Lab ``(..., 3)`` with each out-of-gamut pixel's chroma reduced until sRGB can show it.

    The pixel's ``L`` and hue (the direction of ``ab``) are kept; ``ab`` is scaled by the largest
    factor in [0, 1] (found by bisection, to 2^-``steps``) that lands inside the sRGB gamut. Neutral
    grey is inside for every L in [0, 100], so a factor always exists. In-gamut pixels are unchanged.
    """
    lab = np.asarray(lab, dtype=np.float32)
    flat = lab.reshape(-1, 3)
    fy = (np.clip(flat[:, 0], 0.0, 100.0) + np.float32(16.0)) / np.float32(116.0)
    y = _f_inverse(fy)
    outside = np.flatnonzero(~_in_gamut(fy, y, flat[:, 1], flat[:, 2]))
    if outside.size == 0:
        return lab
    fy, y, a, b = fy[outside], y[outside], flat[outside, 1], flat[outside, 2]
    low = np.zeros(outside.size, dtype=np.float32)
    high = np.ones(outside.size, dtype=np.float32)
    for _ in range(steps):
        mid = (low + high) * np.float32(0.5)
        inside = _in_gamut(fy, y, a * mid, b * mid)
        low = np.where(inside, mid, low)
        high = np.where(inside, high, mid)
    out = flat.copy()
    out[outside, 1] = a * low
    out[outside, 2] = b * low
    return out.reshape(lab.shape)


def encode_l(lightness: np.ndarray) -> np.ndarray:
    """Model input from L in [0, 100]: ``L / 100`` in [0, 1], float32."""
    return (np.asarray(lightness, dtype=np.float32) / L_SCALE).astype(np.float32)


def decode_l(encoded: np.ndarray) -> np.ndarray:
    """Inverse of :func:`encode_l`: L in [0, 100]."""
    return (np.asarray(encoded, dtype=np.float32) * L_SCALE).astype(np.float32)


def encode_ab(ab: np.ndarray) -> np.ndarray:
    """Model target from ab in Lab units: ``(ab + 128) / 255`` in [0, 1], float32."""
    return ((np.asarray(ab, dtype=np.float32) + AB_OFFSET) / AB_SCALE).astype(np.float32)


def decode_ab(encoded: np.ndarray) -> np.ndarray:
    """Inverse of :func:`encode_ab`, clipped to the representable range [-128, 127] Lab units.

    Clipping is what the study did (clip the prediction to [0, 1] before ×255) and keeps any model
    output, whatever its activation, a valid colour.
    """
    ab = np.asarray(encoded, dtype=np.float32) * AB_SCALE - AB_OFFSET
    return np.clip(ab, AB_MIN, AB_MAX).astype(np.float32)


def merge_lab(lightness: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """Stack L ``(..., H, W)`` or ``(..., H, W, 1)`` with ab ``(..., H, W, 2)`` into Lab ``(..., H, W, 3)``."""
    lightness = np.asarray(lightness, dtype=np.float32)
    if lightness.ndim == np.ndim(ab) - 1:
        lightness = lightness[..., None]
    return np.concatenate([lightness, np.asarray(ab, dtype=np.float32)], axis=-1)


def gray_ab(shape: tuple[int, ...]) -> np.ndarray:
    """Neutral-grey ab (zeros in Lab units) of the given shape ``(..., 2)``: the grey baseline."""
    return np.zeros(shape, dtype=np.float32)
