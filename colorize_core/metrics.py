"""Colorization quality metrics: the one place where trials are scored.

Every trial is ranked on these numbers, whatever loss it trained with, so they are computed the same way
for all: in numpy, on a whole split at once, in real CIELAB units (see :mod:`colorize_core.color`).

Inputs of :func:`evaluate`:

* ``lightness``: ``(N, H, W, 1)`` (or ``(N, H, W)``), L in ``[0, 100]``;
* ``ab_true``, ``ab_pred``: ``(N, H, W, 2)``, a and b in Lab units (about ``[-128, 127]``).

The *reconstruction* of an image is the true L merged with the predicted ab, converted to sRGB and clipped
to ``[0, 1]`` (the sRGB gamut). The *truth* image is the true L with the true ab, through the same
conversion. RGB-based metrics (PSNR, colourfulness) and CIEDE2000 use these two images, so a perfect
prediction scores exactly like the truth; ab-based metrics (ab MSE, AuC, gain over grey) use the ab
arrays directly.

Metrics (direction in brackets; full definitions in :data:`METRICS`):

=================== ====== ==============================================================================
``ab_mse``          min    mean squared ab error, Lab units², mean over N, H, W and both channels
``delta_e``         min    mean CIEDE2000 between reconstruction and truth (both round-tripped via RGB)
``psnr``            max    dB on 8-bit RGB over the whole split; capped at :data:`PSNR_CAP` when MSE = 0
``auc``             max    Zhang et al. AuC, %: mean over thresholds 0..150 of the share of pixels whose
                           ab L2 error is ≤ threshold; perfect = 100
``colorfulness``    max    Hasler–Süsstrunk colourfulness of the reconstruction, mean over images
``colorfulness_gap`` min   ``|mean CF(reconstruction) − mean CF(truth)|``
``gain_vs_gray``    max    ``1 − ab_mse / ab_mse(grey)``; grey = 0, perfect = 1
=================== ====== ==============================================================================

Grey prediction already scores well on ``auc`` and ``psnr`` (Zhang et al. 2016; DDColor 2023), so read them
beside :func:`baseline_metrics`; ``gain_vs_gray`` and ``colorfulness_gap`` are the ones grey cannot game.

Cost: CIEDE2000 dominates. On a 2-core CPU, 256 images of 128×128 (4.2 M pixels) take about 2.2 s for
CIEDE2000 alone and 3.2–4 s for the whole :func:`evaluate`; ``max_pixels=DELTA_E_MAX_PIXELS`` computes
``delta_e`` on a fixed, seeded subset of 262 144 pixels instead (≈0.1 s for that part, ≈1.1–1.3 s for the
whole call; the mean moved by < 0.001 ΔE on a synthetic split). Other metrics always use every pixel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Literal

import numpy as np
from skimage.color import deltaE_ciede2000

from colorize_core.errors import InvalidValueError
from colorize_core.color import gray_ab, lab_to_rgb, merge_lab, rgb_to_lab
from colorize_core.suggest import did_you_mean

__all__ = [
    "MetricSpec",
    "METRICS",
    "METRIC_NAMES",
    "AUC_THRESHOLDS",
    "PSNR_CAP",
    "DELTA_E_MAX_PIXELS",
    "evaluate",
    "baseline_predictions",
    "baseline_metrics",
    "metric_mode",
    "is_better",
    "auc_score",
    "colorfulness",
    "psnr_8bit",
    "delta_e_subset",
]


@dataclass(frozen=True)
class MetricSpec:
    """Definition of one metric.

    ``mode`` is ``"min"`` when lower is better and ``"max"`` when higher is better (the convention of
    Ray Tune and Optuna ``direction="minimize"/"maximize"``).
    """

    name: str
    mode: Literal["min", "max"]
    unit: str
    description: str


AUC_THRESHOLDS = np.arange(0, 151, dtype=np.float64)
"""Thresholds of the AuC sweep, ab L2 error in Lab units: 0, 1, ..., 150 (151 values, inclusive)."""

PSNR_CAP = 100.0
"""PSNR (dB) reported when the 8-bit RGB MSE is exactly 0 (a perfect prediction), instead of +inf."""

DELTA_E_MAX_PIXELS = 262_144
"""A suggested ``max_pixels`` for :func:`evaluate`: CIEDE2000 on 2¹⁸ fixed pixels (≈0.1 s on a 2-core CPU)."""

METRICS: dict[str, MetricSpec] = {
    spec.name: spec
    for spec in (
        MetricSpec(
            "ab_mse",
            "min",
            "Lab units²",
            "Mean squared error of predicted ab, mean over all pixels and both channels (a, b). Lower is better.",
        ),
        MetricSpec(
            "delta_e",
            "min",
            "CIEDE2000 ΔE",
            "Mean CIEDE2000 between reconstruction (true L + predicted ab → sRGB clipped to [0, 1] → Lab) and "
            "truth (true L + true ab, same round trip); 0 for a perfect prediction. With max_pixels, the mean "
            "over a fixed seeded subset of pixels. Lower is better.",
        ),
        MetricSpec(
            "psnr",
            "max",
            "dB",
            "PSNR of the 8-bit sRGB reconstruction against the 8-bit truth, 10·log10(255²/MSE) with the MSE over "
            f"every pixel and channel of the split; {PSNR_CAP} dB when MSE = 0. Higher is better.",
        ),
        MetricSpec(
            "auc",
            "max",
            "%",
            "Zhang et al. 2016 AuC: share of pixels whose ab L2 error is ≤ t, averaged over t = 0, 1, ..., 150 "
            "(151 thresholds, Lab units), in %; 100 for a perfect prediction. Higher is better.",
        ),
        MetricSpec(
            "colorfulness",
            "max",
            "Hasler–Süsstrunk M (0–255 RGB)",
            "Hasler & Süsstrunk 2003 colourfulness of the reconstruction on 0–255 sRGB, per image, then mean "
            "over images. Higher is better (but see colorfulness_gap).",
        ),
        MetricSpec(
            "colorfulness_gap",
            "min",
            "Hasler–Süsstrunk M (0–255 RGB)",
            "|mean colourfulness of the reconstructions − mean colourfulness of the truth images| (DDColor's "
            "ΔCF); 0 for a perfect prediction. Lower is better.",
        ),
        MetricSpec(
            "gain_vs_gray",
            "max",
            "fraction",
            "1 − ab_mse / ab_mse of the neutral-grey prediction (ab = 0) on the same split: 0 for grey, 1 for a "
            "perfect prediction, negative when worse than grey; 0.0 when the truth is all grey. Higher is better.",
        ),
    )
}

METRIC_NAMES: tuple[str, ...] = tuple(METRICS)
"""All metric names, in the order :func:`evaluate` returns them."""

_RGB_METRICS = frozenset({"delta_e", "psnr", "colorfulness", "colorfulness_gap"})


# --------------------------------------------------------------------------------------------------
# Directions


def metric_mode(name: str) -> str:
    """``"min"`` (lower is better) or ``"max"`` (higher is better) for metric ``name``.

    Raises ``ValueError`` listing the known metrics when ``name`` is unknown.
    """
    return _spec(name).mode


def is_better(metric: str, a: float, b: float) -> bool:
    """Whether value ``a`` of ``metric`` is strictly better than value ``b``.

    NaN counts as the worst possible value: a NaN is never better, and any number beats a NaN.
    """
    mode = metric_mode(metric)
    a, b = float(a), float(b)
    if math.isnan(a):
        return False
    if math.isnan(b):
        return True
    return a < b if mode == "min" else a > b


def _spec(name: str) -> MetricSpec:
    try:
        return METRICS[name]
    except (KeyError, TypeError):
        raise InvalidValueError(f"unknown metric {name!r}{did_you_mean(name, METRIC_NAMES)}; "
                                f"known metrics: {', '.join(METRIC_NAMES)}") from None


# --------------------------------------------------------------------------------------------------
# Building blocks


def auc_score(ab_true: np.ndarray, ab_pred: np.ndarray) -> float:
    """Zhang et al. AuC in % (higher is better; perfect = 100).

    Per pixel, ``e = ‖ab_pred − ab_true‖₂`` (Lab units). For each threshold ``t`` in
    :data:`AUC_THRESHOLDS` (0, 1, ..., 150) take the share of pixels with ``e ≤ t``; the AuC is the plain mean
    of those 151 shares, ×100. (Equivalently, a pixel contributes ``#{t : t ≥ e} / 151``; so an error of 5
    everywhere gives ``146 / 151 · 100 ≈ 96.69``, and grey prediction scores well: compare with baselines.)
    """
    diff = np.asarray(ab_pred, dtype=np.float64) - np.asarray(ab_true, dtype=np.float64)
    err = np.sqrt(np.sum(diff * diff, axis=-1))
    n_thr = AUC_THRESHOLDS.size
    # number of integer thresholds t in [0, 150] with t >= err is 151 - max(ceil(err), 0), floored at 0
    counts = np.clip(n_thr - np.maximum(np.ceil(err), 0.0), 0.0, n_thr)
    return float(np.mean(counts) / n_thr * 100.0)


def colorfulness(rgb: np.ndarray) -> np.ndarray | float:
    """Hasler & Süsstrunk (2003) colourfulness of sRGB images (higher = more colourful).

    ``rgb`` is float sRGB in ``[0, 1]`` (the project's convention), ``(H, W, 3)`` or ``(N, H, W, 3)``; it is
    scaled to 0–255 as in the paper. With ``rg = R − G`` and ``yb = ½(R + G) − B`` over an image's pixels,
    ``M = √(σ_rg² + σ_yb²) + 0.3·√(μ_rg² + μ_yb²)`` (population standard deviations). Returns a float for
    one image, an ``(N,)`` float64 array for a batch.
    """
    rgb = np.asarray(rgb)
    if rgb.ndim < 3 or rgb.shape[-1] != 3:
        raise InvalidValueError(f"expected RGB of shape (..., H, W, 3), got shape {rgb.shape}")
    flat = rgb.reshape(rgb.shape[:-3] + (-1, 3))
    r = flat[..., 0].astype(np.float64) * 255.0
    g = flat[..., 1].astype(np.float64) * 255.0
    b = flat[..., 2].astype(np.float64) * 255.0
    rg = r - g
    yb = 0.5 * (r + g) - b
    std = np.sqrt(rg.var(axis=-1) + yb.var(axis=-1))
    mean = np.sqrt(rg.mean(axis=-1) ** 2 + yb.mean(axis=-1) ** 2)
    m = std + 0.3 * mean
    return float(m) if np.ndim(m) == 0 else m


def psnr_8bit(rgb_a: np.ndarray, rgb_b: np.ndarray) -> float:
    """PSNR in dB between two 8-bit images or batches (higher is better).

    ``10·log10(255² / MSE)`` with the MSE over every pixel and channel of the inputs (so a split is one
    number, not a mean of per-image PSNRs). Inputs are integer arrays in 0–255 (uint8 or wider); a float
    input is taken as sRGB in ``[0, 1]`` and quantised with ``rint(x·255)``. Returns :data:`PSNR_CAP` when
    the MSE is 0.
    """
    a = _to_uint8(rgb_a)
    b = _to_uint8(rgb_b)
    if a.shape != b.shape:
        raise InvalidValueError(f"shapes differ: {a.shape} vs {b.shape}")
    if a.size == 0:
        raise InvalidValueError("cannot compute PSNR of empty arrays")
    diff = (a.astype(np.float64) - b.astype(np.float64)).ravel()
    mse = float(np.dot(diff, diff)) / diff.size  # exact: integer squares, sums far below 2**53
    if mse == 0.0:
        return PSNR_CAP
    return float(10.0 * np.log10(255.0**2 / mse))


def _to_uint8(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb)
    if np.issubdtype(rgb.dtype, np.integer):
        return rgb
    return np.clip(np.rint(rgb.astype(np.float32) * 255.0), 0, 255).astype(np.uint8)


def delta_e_subset(n_pixels: int, max_pixels: int | None, seed: int = 0) -> np.ndarray | None:
    """Flat pixel indices on which ``delta_e`` is computed, or ``None`` for all pixels.

    ``None`` when ``max_pixels`` is ``None`` or ``n_pixels <= max_pixels``; otherwise ``max_pixels`` distinct
    indices into ``range(n_pixels)`` (``n_pixels = N·H·W``), sorted, drawn with
    ``numpy.random.default_rng(seed)``: deterministic, so every trial evaluated on the same split shape
    with the same ``max_pixels`` and ``seed`` is scored on the same pixels. The array is read-only (cached).
    """
    if max_pixels is None or n_pixels <= max_pixels:
        return None
    if max_pixels < 1:
        raise InvalidValueError(f"max_pixels must be a positive integer or None, got {max_pixels!r}")
    return _subset_cached(int(n_pixels), int(max_pixels), int(seed))


@lru_cache(maxsize=8)
def _subset_cached(n_pixels: int, max_pixels: int, seed: int) -> np.ndarray:
    idx = np.sort(np.random.default_rng(seed).choice(n_pixels, size=max_pixels, replace=False))
    idx.setflags(write=False)
    return idx


def _mean_delta_e(lab_true_rt: np.ndarray, rgb_pred: np.ndarray, subset: np.ndarray | None) -> float:
    """Mean CIEDE2000 between round-tripped truth Lab and reconstruction (RGB → Lab here)."""
    if subset is None:
        lab_pred_rt = rgb_to_lab(rgb_pred)
        de = deltaE_ciede2000(lab_true_rt, lab_pred_rt)
    else:
        # a single 1×k "image": colour conversion is per pixel
        rgb_sub = rgb_pred.reshape(-1, 3)[subset][None]
        lab_pred_rt = rgb_to_lab(rgb_sub)[0]
        de = deltaE_ciede2000(lab_true_rt, lab_pred_rt)
    return float(np.mean(de, dtype=np.float64))


# --------------------------------------------------------------------------------------------------
# Whole-split evaluation


def _check_inputs(lightness, ab_true, ab_pred) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lightness = np.asarray(lightness, dtype=np.float32)
    ab_true = np.asarray(ab_true, dtype=np.float32)
    ab_pred = np.asarray(ab_pred, dtype=np.float32)
    if ab_true.ndim == 3:  # a single image: add the batch axis
        ab_true, ab_pred = ab_true[None], ab_pred[None]
        lightness = lightness[None]
    if ab_true.ndim != 4 or ab_true.shape[-1] != 2:
        raise InvalidValueError(f"ab_true must have shape (N, H, W, 2), got {ab_true.shape}")
    if ab_pred.shape != ab_true.shape:
        raise InvalidValueError(f"ab_pred shape {ab_pred.shape} differs from ab_true shape {ab_true.shape}")
    if lightness.ndim == 3:
        lightness = lightness[..., None]
    if lightness.shape != ab_true.shape[:-1] + (1,):
        raise InvalidValueError(
            f"lightness must have shape {ab_true.shape[:-1] + (1,)} (or without the last axis), got {lightness.shape}"
        )
    if ab_true.shape[0] == 0:
        raise InvalidValueError("cannot evaluate an empty split (N = 0)")
    for name, arr in (("lightness", lightness), ("ab_true", ab_true), ("ab_pred", ab_pred)):
        if not np.all(np.isfinite(arr)):
            raise InvalidValueError(f"{name} contains non-finite values (NaN or inf); cannot evaluate")
    return lightness, ab_true, ab_pred


def _resolve(metrics: Iterable[str] | None) -> tuple[str, ...]:
    if metrics is None:
        return METRIC_NAMES
    if isinstance(metrics, str):
        metrics = (metrics,)
    names = tuple(dict.fromkeys(metrics))
    for name in names:
        _spec(name)
    return names


def evaluate(
    lightness: np.ndarray,
    ab_true: np.ndarray,
    ab_pred: np.ndarray,
    *,
    metrics: Iterable[str] | None = None,
    max_pixels: int | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """Score a prediction of a whole split; returns ``{metric name: float}`` (see :data:`METRICS`).

    Args:
        lightness: ``(N, H, W, 1)`` or ``(N, H, W)``, L in ``[0, 100]`` (a single ``(H, W, ·)`` image works too).
        ab_true: ``(N, H, W, 2)``, true ab in Lab units.
        ab_pred: ``(N, H, W, 2)``, predicted ab in Lab units (e.g. :func:`colorize_core.color.decode_ab` of the
            model output).
        metrics: names to compute (default: all, in :data:`METRIC_NAMES` order). Unknown names raise
            ``ValueError``.
        max_pixels: if set and ``N·H·W > max_pixels``, ``delta_e`` (only) is the mean over a fixed subset of
            ``max_pixels`` pixels chosen by :func:`delta_e_subset` with ``seed``; identical for every trial on
            the same split shape. ``None`` (default) uses every pixel. :data:`DELTA_E_MAX_PIXELS` is a good value.
        seed: seed of that subset.

    Raises ``ValueError`` on mismatched shapes or non-finite inputs (a diverged model's NaN output is the
    caller's to report, not a score).

    Directions: ``ab_mse``, ``delta_e``, ``colorfulness_gap`` lower is better; ``psnr``, ``auc``,
    ``colorfulness``, ``gain_vs_gray`` higher is better (:func:`metric_mode`).
    """
    names = _resolve(metrics)
    lightness, ab_true, ab_pred = _check_inputs(lightness, ab_true, ab_pred)
    out: dict[str, float] = {}

    need_mse = {"ab_mse", "gain_vs_gray"} & set(names)
    if need_mse:
        diff = (ab_pred.astype(np.float64) - ab_true).ravel()
        mse = float(np.dot(diff, diff)) / diff.size
        del diff
        if "ab_mse" in names:
            out["ab_mse"] = mse
        if "gain_vs_gray" in names:
            flat_true = ab_true.astype(np.float64).ravel()
            gray_mse = float(np.dot(flat_true, flat_true)) / flat_true.size
            out["gain_vs_gray"] = 0.0 if gray_mse == 0.0 else 1.0 - mse / gray_mse

    if "auc" in names:
        out["auc"] = auc_score(ab_true, ab_pred)

    if _RGB_METRICS & set(names):
        rgb_true = lab_to_rgb(merge_lab(lightness, ab_true))
        rgb_pred = lab_to_rgb(merge_lab(lightness, ab_pred))
        if "delta_e" in names:
            n, h, w = ab_true.shape[:3]
            subset = delta_e_subset(n * h * w, max_pixels, seed)
            if subset is None:
                lab_true_rt = rgb_to_lab(rgb_true)
            else:
                lab_true_rt = rgb_to_lab(rgb_true.reshape(-1, 3)[subset][None])[0]
            out["delta_e"] = _mean_delta_e(lab_true_rt, rgb_pred, subset)
        if "psnr" in names:
            out["psnr"] = psnr_8bit(rgb_pred, rgb_true)
        if {"colorfulness", "colorfulness_gap"} & set(names):
            cf_pred = float(np.mean(colorfulness(rgb_pred)))
            if "colorfulness" in names:
                out["colorfulness"] = cf_pred
            if "colorfulness_gap" in names:
                cf_true = float(np.mean(colorfulness(rgb_true)))
                out["colorfulness_gap"] = abs(cf_pred - cf_true)

    return {name: float(out[name]) for name in names}


# --------------------------------------------------------------------------------------------------
# Baselines


def baseline_predictions(ab_train: np.ndarray, shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    """The two trivial predictions every trial must beat, as float32 ab arrays of ``shape`` ``(..., 2)``.

    * ``"gray"``: neutral grey, ab = 0 everywhere (:func:`colorize_core.color.gray_ab`);
    * ``"train_mean"``: the training split's mean a and mean b (over all its pixels), broadcast.

    ``ab_train`` is the training split's ab, ``(..., 2)`` in Lab units.
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) < 1 or shape[-1] != 2:
        raise InvalidValueError(f"shape must end with 2 (ab channels), got {shape}")
    ab_train = np.asarray(ab_train)
    if ab_train.ndim < 1 or ab_train.shape[-1] != 2 or ab_train.size == 0:
        raise InvalidValueError(f"ab_train must be a non-empty array of shape (..., 2), got {ab_train.shape}")
    mean_ab = ab_train.reshape(-1, 2).mean(axis=0, dtype=np.float64).astype(np.float32)
    train_mean = np.empty(shape, dtype=np.float32)
    train_mean[...] = mean_ab
    return {"gray": gray_ab(shape), "train_mean": train_mean}


def baseline_metrics(
    lightness: np.ndarray,
    ab_true: np.ndarray,
    *,
    ab_train: np.ndarray,
    metrics: Iterable[str] | None = None,
    max_pixels: int | None = None,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """:func:`evaluate` of both :func:`baseline_predictions` on a split: ``{"gray": {...}, "train_mean": {...}}``.

    Same arguments and units as :func:`evaluate`; ``ab_train`` is the training split's ab (for the train-mean
    baseline). Report these beside every trial: grey already scores well on ``auc`` and ``psnr``.
    """
    ab_true = np.asarray(ab_true, dtype=np.float32)
    preds = baseline_predictions(ab_train, ab_true.shape)
    return {
        name: evaluate(lightness, ab_true, pred, metrics=metrics, max_pixels=max_pixels, seed=seed)
        for name, pred in preds.items()
    }
