"""Colorization as classification (Zhang et al. 2016, "Colorful Image Colorization", ECCV).

Instead of regressing ab (which predicts the conditional *mean* colour: greyish, blue/green output),
a classification model predicts, per output pixel, a probability distribution over :func:`num_bins`
quantised ab colours, trained with a class-rebalanced cross-entropy, and decoded with the
*annealed mean* (between the mean and the mode of that distribution).

Units: ab in real CIELAB units (about [-128, 127]) as everywhere in colorsweep
(:mod:`colorize_core.color`); bin centres in the same units; probabilities and weights unitless.

The pieces, in the order a training run uses them:

* **The quantised gamut** (:func:`ab_bins`): ab on a grid of :data:`GRID_STEP` = 10 Lab units
  (centres at multiples of 10), keeping the cells that real sRGB colours reach: every one of the
  2²⁴ 8-bit sRGB colours is converted to float Lab with :func:`colorize_core.color.rgb_to_lab`
  and rounded to its nearest grid centre. That gives **Q = 262** bins (Zhang et al. report 313 for
  their gamut; their set is larger than the cells real sRGB colours fall into, ours is exactly those
  cells). Computed once by :func:`compute_ab_bins` and shipped as ``colorize_core/ab_bins.npy``
  (a ``(262, 2)`` float32 array, sorted by a then b). Every sRGB colour lies within
  ``GRID_STEP / √2 ≈ 7.1`` Lab units of a bin.
* **Soft encoding** (:func:`soft_encode`): each pixel's ab spread over its
  :data:`SOFT_NEIGHBOURS` = 5 nearest bins with Gaussian weights (σ = :data:`SOFT_SIGMA` = 5 Lab
  units), summing to 1. At the model's output resolution: with ``factor`` > 1 (the paper predicts
  at ¼ resolution), the full-resolution encodings of each ``factor × factor`` block are averaged,
  so a block on a colour edge gets both colours, not their grey average.
* **Class rebalancing** (:func:`rebalancing_weights`, :func:`class_weights_for`): bin weights
  ``w ∝ ((1 − λ)·p̃ + λ/Q)⁻¹`` with λ = :data:`REBALANCE_LAMBDA` = ½ and p̃ the empirical
  nearest-bin distribution of the training split smoothed by a Gaussian of σ =
  :data:`REBALANCE_SIGMA` = 5 Lab units over ab, normalised so that ``Σ_q p̃_q·w_q = 1``
  (expected weight 1). A pixel's weight is that of its most likely bin
  (:class:`colorize_core.losses.ClsRebalanced`). Cached beside the data cache, keyed by the data
  fingerprint.
* **Decoding** (:func:`decode_logits`): ``"annealed_mean"`` with temperature T (default
  :data:`DEFAULT_TEMPERATURE` = 0.38): ``ab = Σ_q softmax(logits / T)_q · c_q`` (T → 0 gives the
  mode, T = 1 the plain mean), ``"mode"`` (centre of the most likely bin) or ``"mean"``. Then
  :func:`upsample_ab` resizes ab (bilinear) to the input size.

The models (``richard_zhang_cls``, ``unet_cls``) end in a 1×1 convolution to Q logits
(:mod:`colorize_core.models.classifiers`); :func:`is_classification_model` recognises one, built or
loaded, by its Q output channels. This module imports NumPy and OpenCV only (no Keras).
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import warnings
from importlib import resources
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from colorize_core.errors import InvalidValueError
from colorize_core import color

__all__ = [
    "GRID_STEP",
    "SOFT_NEIGHBOURS",
    "SOFT_SIGMA",
    "REBALANCE_LAMBDA",
    "REBALANCE_SIGMA",
    "DEFAULT_TEMPERATURE",
    "DECODE_MODES",
    "BINS_FILE",
    "ab_bins",
    "num_bins",
    "compute_ab_bins",
    "nearest_bin",
    "soft_encode",
    "bin_distribution",
    "rebalancing_weights",
    "class_weights_for",
    "annealed_distribution",
    "decode_logits",
    "upsample_ab",
    "is_classification_model",
    "predict_logits_ab",
]

#: Spacing of the ab grid, Lab units; bin centres are at multiples of it.
GRID_STEP = 10.0
#: Number of nearest bins each pixel's soft encoding spreads over.
SOFT_NEIGHBOURS = 5
#: σ of the soft encoding's Gaussian, Lab units.
SOFT_SIGMA = 5.0
#: λ of the class rebalancing: the weight of the uniform distribution mixed into p̃.
REBALANCE_LAMBDA = 0.5
#: σ of the Gaussian that smooths the empirical bin distribution, Lab units.
REBALANCE_SIGMA = 5.0
#: The paper's annealed-mean temperature.
DEFAULT_TEMPERATURE = 0.38
#: Decoding modes of :func:`decode_logits`.
DECODE_MODES = ("annealed_mean", "mode", "mean")
#: The bin centres, shipped inside the package (``[tool.setuptools.package-data]``).
BINS_FILE = "ab_bins.npy"

# Candidate bins kept per cell of the 1-Lab-unit lookup table (see _candidate_table). A pixel is at
# most 0.71 units from its table point, so its 5 nearest bins are among that point's 12 nearest.
_CANDIDATES = 12
_LUT_MIN, _LUT_SIZE = -128, 256  # table over a, b in [-128, 127], one entry per integer
_WEIGHTS_VERSION = 1  # bump when the weight computation changes: cached weights are keyed by it


# --------------------------------------------------------------------------------------------------
# The quantised gamut


def compute_ab_bins(*, grid_step: float = GRID_STEP) -> np.ndarray:
    """Derive the in-gamut ab bins from scratch: all 2²⁴ 8-bit sRGB colours → float Lab → nearest
    grid centre (multiples of ``grid_step`` Lab units); the distinct centres, sorted by (a, b).

    Returns a ``(Q, 2)`` float32 array in Lab units (Q = 262 for ``grid_step = 10``). Takes a few
    seconds; :func:`ab_bins` loads the stored result instead.
    """
    cells: set[tuple[int, int]] = set()
    levels = np.arange(256, dtype=np.float32) / 255.0
    g, b = np.meshgrid(levels, levels, indexing="ij")
    for red in levels:  # one 256×256 image per red level keeps memory small
        rgb = np.stack([np.full_like(g, red), g, b], axis=-1)
        ab = color.rgb_to_lab(rgb)[..., 1:].reshape(-1, 2)
        idx = np.unique(np.rint(ab / grid_step).astype(np.int64), axis=0)
        cells.update(map(tuple, idx.tolist()))
    centres = np.array(sorted(cells), dtype=np.float64) * grid_step
    return centres.astype(np.float32)


@functools.lru_cache(maxsize=1)
def _stored_bins() -> np.ndarray:
    path = resources.files("colorize_core") / BINS_FILE
    with resources.as_file(path) as file:
        bins = np.load(file)
    bins = np.asarray(bins, dtype=np.float32)
    bins.setflags(write=False)
    return bins


def ab_bins() -> np.ndarray:
    """The bin centres, ``(Q, 2)`` float32 in Lab units, read-only (see the module docstring)."""
    return _stored_bins()


def num_bins() -> int:
    """Q, the number of ab bins (the classification models' output channels): 262."""
    return int(_stored_bins().shape[0])


@functools.lru_cache(maxsize=1)
def _candidate_table() -> np.ndarray:
    """For every integer (a, b) in [-128, 127]², the indices of its nearest bins, nearest first:
    ``(256, 256, _CANDIDATES)`` int16."""
    bins = _stored_bins().astype(np.float32)
    axis = np.arange(_LUT_MIN, _LUT_MIN + _LUT_SIZE, dtype=np.float32)
    a, b = np.meshgrid(axis, axis, indexing="ij")
    points = np.stack([a.ravel(), b.ravel()], axis=-1)
    table = np.empty((points.shape[0], _CANDIDATES), dtype=np.int16)
    for start in range(0, points.shape[0], 8192):
        chunk = points[start:start + 8192]
        d2 = ((chunk[:, None, :] - bins[None, :, :]) ** 2).sum(-1)
        near = np.argpartition(d2, _CANDIDATES - 1, axis=1)[:, :_CANDIDATES]
        order = np.argsort(np.take_along_axis(d2, near, axis=1), axis=1, kind="stable")
        table[start:start + len(chunk)] = np.take_along_axis(near, order, axis=1)
    table = table.reshape(_LUT_SIZE, _LUT_SIZE, _CANDIDATES)
    table.setflags(write=False)
    return table


def _nearest(ab: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest bins of each ab pair ``(P, 2)``: (indices ``(P, k)`` int64, squared
    distances ``(P, k)`` float32), nearest first."""
    ab = np.asarray(ab, dtype=np.float32).reshape(-1, 2)
    cell = np.clip(np.rint(ab), _LUT_MIN, _LUT_MIN + _LUT_SIZE - 1).astype(np.int64) - _LUT_MIN
    cand = _candidate_table()[cell[:, 0], cell[:, 1]].astype(np.int64)  # (P, C)
    centres = _stored_bins()[cand]  # (P, C, 2)
    d2 = ((centres - ab[:, None, :]) ** 2).sum(-1)
    if k < cand.shape[1]:
        part = np.argpartition(d2, k - 1, axis=1)[:, :k]
        cand, d2 = np.take_along_axis(cand, part, axis=1), np.take_along_axis(d2, part, axis=1)
    order = np.argsort(d2, axis=1, kind="stable")
    return np.take_along_axis(cand, order, axis=1), np.take_along_axis(d2, order, axis=1)


def nearest_bin(ab: np.ndarray) -> np.ndarray:
    """Index of the nearest bin of every ab pair: ``ab`` ``(..., 2)`` Lab units → ``(...)`` int64."""
    ab = np.asarray(ab, dtype=np.float32)
    if ab.shape[-1:] != (2,):
        raise InvalidValueError(f"ab must have shape (..., 2), got {ab.shape}")
    idx, _ = _nearest(ab, 1)
    return idx[:, 0].reshape(ab.shape[:-1])


# --------------------------------------------------------------------------------------------------
# Soft encoding


def _check_positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise InvalidValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def soft_encode(
    ab: np.ndarray,
    *,
    factor: int = 1,
    neighbours: int = SOFT_NEIGHBOURS,
    sigma: float = SOFT_SIGMA,
) -> np.ndarray:
    """Soft-encoded classification targets of ab images, at 1/``factor`` resolution.

    Args:
        ab: ``(N, H, W, 2)`` (or ``(H, W, 2)``) in Lab units; ``H`` and ``W`` divisible by ``factor``.
        factor: the model's downsampling (input size / output size): 4 for ``richard_zhang_cls``.
        neighbours: bins each pixel is spread over (its nearest, by Euclidean ab distance).
        sigma: the Gaussian's σ in Lab units: a bin at distance d gets ``exp(−d² / 2σ²)`` before
            normalisation.

    Returns:
        ``(N, H/factor, W/factor, Q)`` float32; every pixel sums to 1. With ``factor`` > 1 each
        output pixel is the mean of the full-resolution encodings of its ``factor × factor`` block.
    """
    factor = _check_positive_int("factor", factor)
    neighbours = _check_positive_int("neighbours", neighbours)
    if neighbours > _CANDIDATES:
        raise InvalidValueError(f"neighbours must be at most {_CANDIDATES}, got {neighbours}")
    if not (isinstance(sigma, (int, float)) and math.isfinite(sigma) and sigma > 0):
        raise InvalidValueError(f"sigma must be a positive number (Lab units), got {sigma!r}")
    ab = np.asarray(ab, dtype=np.float32)
    single = ab.ndim == 3
    if single:
        ab = ab[None]
    if ab.ndim != 4 or ab.shape[-1] != 2:
        raise InvalidValueError(f"ab must have shape (N, H, W, 2) or (H, W, 2), got {ab.shape}")
    n, h, w, _ = ab.shape
    if h % factor or w % factor:
        raise InvalidValueError(f"image size {h}x{w} must be divisible by factor={factor}")
    q = num_bins()
    idx, d2 = _nearest(ab, neighbours)
    # relative to the nearest bin, so that far out-of-gamut ab does not underflow to 0 / 0
    weights = np.exp(-(d2 - d2[:, :1]) / (2.0 * sigma * sigma))
    weights /= weights.sum(axis=1, keepdims=True)
    ho, wo = h // factor, w // factor
    if factor == 1:
        out = np.zeros((n * h * w, q), dtype=np.float32)
        np.put_along_axis(out, idx, weights.astype(np.float32), axis=1)
    else:
        # output pixel of every input pixel, then one bincount over (output pixel, bin)
        rows = np.arange(h) // factor
        cols = np.arange(w) // factor
        block = (np.arange(n)[:, None, None] * ho + rows[None, :, None]) * wo + cols[None, None, :]
        flat = (block.reshape(-1, 1) * q + idx).ravel()
        out = np.bincount(flat, weights=weights.ravel().astype(np.float64), minlength=n * ho * wo * q)
        out = (out / (factor * factor)).astype(np.float32).reshape(n * ho * wo, q)
    out = out.reshape(n, ho, wo, q)
    return out[0] if single else out


# --------------------------------------------------------------------------------------------------
# Class rebalancing


def bin_distribution(ab: np.ndarray, *, chunk_pixels: int = 1 << 22) -> np.ndarray:
    """Empirical distribution of the nearest bins of all ab pixels ``(..., 2)``: ``(Q,)`` float64
    summing to 1 (processed ``chunk_pixels`` at a time)."""
    flat = np.asarray(ab, dtype=np.float32).reshape(-1, 2)
    if flat.shape[0] == 0:
        raise InvalidValueError("ab holds no pixels; cannot compute a bin distribution")
    counts = np.zeros(num_bins(), dtype=np.float64)
    for start in range(0, flat.shape[0], chunk_pixels):
        idx, _ = _nearest(flat[start:start + chunk_pixels], 1)
        counts += np.bincount(idx[:, 0], minlength=counts.size)
    return counts / counts.sum()


def rebalancing_weights(
    distribution: np.ndarray, *, lam: float = REBALANCE_LAMBDA, sigma: float = REBALANCE_SIGMA
) -> tuple[np.ndarray, np.ndarray]:
    """Zhang et al.'s class-rebalancing weights from an empirical bin distribution.

    ``p̃ = normalise(G_σ * p)`` with ``G_σ`` a Gaussian of σ Lab units over the bin centres;
    ``w ∝ ((1 − lam)·p̃ + lam/Q)⁻¹`` scaled so that ``Σ_q p̃_q·w_q = 1`` (expected weight 1 under p̃).

    Args:
        distribution: ``(Q,)`` non-negative, summing to 1 (:func:`bin_distribution`).
        lam: mix of the uniform distribution, in [0, 1] (0: pure inverse frequency, 1: all weights 1).
        sigma: smoothing σ in Lab units (> 0).

    Returns:
        ``(weights, smoothed)``: both ``(Q,)`` float64.
    """
    p = np.asarray(distribution, dtype=np.float64)
    q = num_bins()
    if p.shape != (q,) or np.any(p < 0) or not np.isclose(p.sum(), 1.0):
        raise InvalidValueError(f"distribution must be {q} non-negative numbers summing to 1, got shape {p.shape}")
    if not (isinstance(lam, (int, float)) and 0 <= lam <= 1):
        raise InvalidValueError(f"lam must be a number in [0, 1], got {lam!r}")
    if not (isinstance(sigma, (int, float)) and math.isfinite(sigma) and sigma > 0):
        raise InvalidValueError(f"sigma must be a positive number (Lab units), got {sigma!r}")
    centres = _stored_bins().astype(np.float64)
    d2 = ((centres[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
    kernel = np.exp(-d2 / (2.0 * sigma * sigma))
    smoothed = kernel @ p
    smoothed /= smoothed.sum()
    weights = 1.0 / ((1.0 - lam) * smoothed + lam / q)
    weights /= float(np.dot(smoothed, weights))
    return weights, smoothed


def _weights_cache_file(data: Any, lam: float, sigma: float, source: str = "train") -> Path | None:
    if getattr(data, "cache_path", None) is None or not getattr(data, "fingerprint", None):
        return None
    bins_hash = hashlib.sha256(_stored_bins().tobytes()).hexdigest()[:12]
    key = f"{data.fingerprint}-{bins_hash}-l{lam:g}-s{sigma:g}-v{_WEIGHTS_VERSION}"
    if source != "train":
        key += f"-{source}"
    return Path(data.cache_path).parent / f"colorsweep-abweights-{hashlib.sha256(key.encode()).hexdigest()[:24]}.npy"


def class_weights_for(
    data: Any, *, lam: float = REBALANCE_LAMBDA, sigma: float = REBALANCE_SIGMA, source: str = "train"
) -> np.ndarray:
    """The rebalancing weights ``(Q,)`` float32 of a :class:`colorize_core.data.LabDataset`'s
    training data (:func:`bin_distribution` then :func:`rebalancing_weights`): ``source="train"``, the
    training split's centre crops; ``"pool"``, its photos kept whole (``data.pool``, what random-crop
    training draws from; :func:`colorize_core.sampling.pool_ab`).

    Cached as a small ``.npy`` beside the data cache (``data.cache_path``'s folder), named by the
    data fingerprint, the bin set, ``lam`` and ``sigma``; recomputed (not written) when the data set
    has no cache.
    """
    if source not in ("train", "pool"):
        raise InvalidValueError(f'source must be "train" or "pool", got {source!r}')
    if source == "pool" and getattr(data, "pool", None) is None:
        raise InvalidValueError("source='pool' needs a data set loaded with a photo pool (load_dataset(pool_side='auto'))")
    path = _weights_cache_file(data, lam, sigma, source)
    if path is not None and path.is_file():
        try:
            cached = np.load(path)
            if cached.shape == (num_bins(),) and np.all(np.isfinite(cached)):
                return cached.astype(np.float32)
        except (OSError, ValueError):
            pass  # unreadable: recompute
    if source == "pool":
        from colorize_core.sampling import pool_ab

        ab = pool_ab(data.pool, lab_mode=data.lab_mode)
    else:
        ab = data.train.ab
    weights, _ = rebalancing_weights(bin_distribution(ab), lam=lam, sigma=sigma)
    weights = weights.astype(np.float32)
    if path is not None:
        try:
            tmp = path.with_name(path.stem + f".{os.getpid()}.tmp.npy")
            np.save(tmp, weights)
            os.replace(tmp, path)
        except OSError as exc:  # a cache is an optimisation
            warnings.warn(f"could not write the class-weight cache {path}: {exc}", stacklevel=2)
    return weights


# --------------------------------------------------------------------------------------------------
# Decoding


def _check_temperature(temperature: Any) -> float:
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float, np.floating)) or not (
        math.isfinite(temperature) and temperature > 0
    ):
        raise InvalidValueError(f"temperature must be a positive number, got {temperature!r}")
    return float(temperature)


def annealed_distribution(logits: np.ndarray, temperature: float = DEFAULT_TEMPERATURE) -> np.ndarray:
    """``softmax(logits / T)`` over the last axis: Zhang's ``f_T(z) = exp(log z / T) / Σ exp(log z / T)``
    with ``z = softmax(logits)``. ``(..., Q)`` → ``(..., Q)`` float32 summing to 1."""
    t = _check_temperature(temperature)
    z = np.asarray(logits, dtype=np.float64) / t
    z -= z.max(axis=-1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=-1, keepdims=True)
    return z.astype(np.float32)


def decode_logits(
    logits: np.ndarray, *, temperature: float = DEFAULT_TEMPERATURE, decode: str = "annealed_mean"
) -> np.ndarray:
    """ab (Lab units) from a classification model's logits ``(..., Q)`` → ``(..., 2)`` float32.

    ``decode``: ``"annealed_mean"`` (Σ softmax(logits/T)·centres), ``"mode"`` (the most likely bin's
    centre; ``temperature`` unused) or ``"mean"`` (T = 1). Output resolution = input resolution of
    this function; see :func:`upsample_ab`.
    """
    logits = np.asarray(logits)
    q = num_bins()
    if logits.shape[-1:] != (q,):
        raise InvalidValueError(f"logits must have {q} channels in the last axis, got shape {logits.shape}")
    if decode not in DECODE_MODES:
        raise InvalidValueError(f"decode must be one of {DECODE_MODES}, got {decode!r}")
    centres = _stored_bins()
    if decode == "mode":
        return centres[np.argmax(logits, axis=-1)].astype(np.float32)
    probs = annealed_distribution(logits, 1.0 if decode == "mean" else temperature)
    return (probs @ centres).astype(np.float32)


def upsample_ab(ab: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Resize ab ``(N, h, w, 2)`` or ``(h, w, 2)`` to ``size`` (an int for square, or (H, W)),
    bilinear (a convex combination: the result stays between the decoded colours)."""
    ab = np.asarray(ab, dtype=np.float32)
    height, width = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
    single = ab.ndim == 3
    batch = ab[None] if single else ab
    if batch.shape[1:3] == (height, width):
        return ab
    out = np.stack([cv2.resize(im, (int(width), int(height)), interpolation=cv2.INTER_LINEAR) for im in batch])
    out = out.reshape(batch.shape[0], height, width, 2)
    return out[0] if single else out


def is_classification_model(model: Any) -> bool:
    """Whether a Keras model (built or loaded) is a classification colorizer: its output has Q channels."""
    shape = model.output_shape
    if isinstance(shape, list):
        return False
    return len(shape) == 4 and shape[-1] == num_bins()


def predict_logits_ab(
    model: Any,
    encoded_l: np.ndarray,
    *,
    temperature: float = DEFAULT_TEMPERATURE,
    decode: str = "annealed_mean",
    batch_size: int = 64,
    max_logit_bytes: int = 64 << 20,
    targets_ab: np.ndarray | None = None,
    loss_fn: Any = None,
) -> tuple[np.ndarray, float | None]:
    """Run a classification model on encoded L ``(N, H, W, 1)`` in chunks and decode ab at ``(H, W)``.

    Logits are never held for the whole split (at 128 px they would take GBs): images go through in
    chunks whose logits fit in ``max_logit_bytes``. With ``targets_ab`` (true ab, Lab units) and a
    Keras ``loss_fn``, also returns the loss on soft-encoded targets, weighted by image count;
    otherwise ``None``.

    Returns:
        (ab ``(N, H, W, 2)`` float32 in Lab units, mean loss or None).
    """
    _check_temperature(temperature)
    encoded_l = np.asarray(encoded_l, dtype=np.float32)
    n, height, width = encoded_l.shape[:3]
    _, ho, wo, q = model.output_shape
    per_image = int(ho) * int(wo) * int(q) * 4
    chunk = max(1, min(int(batch_size), max_logit_bytes // max(per_image, 1), n))
    out = np.empty((n, height, width, 2), dtype=np.float32)
    loss_sum, factor = 0.0, height // int(ho)
    for start in range(0, n, chunk):
        part = encoded_l[start:start + chunk]
        padded = part if len(part) == chunk else np.concatenate(  # one shape: one compiled program
            [part, np.zeros((chunk - len(part),) + part.shape[1:], dtype=part.dtype)])
        logits = np.asarray(model.predict_on_batch(padded))[:len(part)]
        out[start:start + len(part)] = upsample_ab(
            decode_logits(logits, temperature=temperature, decode=decode), (height, width)
        )
        if targets_ab is not None and loss_fn is not None:
            import keras

            target = soft_encode(targets_ab[start:start + len(part)], factor=factor)
            loss_sum += float(keras.ops.convert_to_numpy(loss_fn(target, logits))) * len(part)
    return out, (loss_sum / n if targets_ab is not None and loss_fn is not None else None)
