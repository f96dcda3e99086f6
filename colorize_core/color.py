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

__all__ = [
    "LAB_MODES",
    "AB_NEUTRAL_ENCODED",
    "rgb_to_lab",
    "lab_to_rgb",
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
        raise ValueError(f"lab_mode must be one of {LAB_MODES}, got {lab_mode!r}")


def _apply_per_image(fn, array: np.ndarray) -> np.ndarray:
    """Apply an OpenCV (H, W, 3) colour conversion to an image or a batch (..., H, W, 3)."""
    array = np.ascontiguousarray(array)
    if array.ndim < 3 or array.shape[-1] != 3:
        raise ValueError(f"expected an array of shape (..., H, W, 3), got shape {array.shape}")
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


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """Convert float Lab in real units (``(..., H, W, 3)``) to float32 sRGB clipped to [0, 1]."""
    lab32 = np.asarray(lab, dtype=np.float32)
    rgb = _apply_per_image(lambda im: cv2.cvtColor(im, cv2.COLOR_Lab2RGB), lab32)
    return np.clip(rgb, 0.0, 1.0)


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
