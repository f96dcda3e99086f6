"""The colour strength an exported model colorizes with: the strongest colours that cost no accuracy.

A regression model trained on an accuracy loss hedges towards grey where it is unsure, and scaling
its predicted chroma (``--chroma S`` of ``colorsweep colorize``, hues kept) often makes it *more*
accurate on the ranked metric, not less: the `auto` sweep's CIEDE2000 export on gcompris scored
validation ``delta_e`` 9.00 at S = 1 and 8.98 at S = 1.4 (BENCHMARKS.md, "The colour strength an
export colorizes with"). :func:`fit_colour_strength` picks, on the validation split, the largest S of
:data:`STRENGTHS` whose ``delta_e`` is no worse than S = 1's: colour bought at no cost in the metric
the trials were ranked on. A model that gets worse as soon as its colours grow (an MAE-trained one,
usually) keeps S = 1.
"""

from __future__ import annotations

import numpy as np

__all__ = ["STRENGTHS", "fit_colour_strength", "colour_strength_of_model"]

#: The strengths tried, 1 to 1.6 in steps of 0.05 (unitless multiples of the predicted chroma).
STRENGTHS = tuple(round(1.0 + 0.05 * i, 2) for i in range(13))


def fit_colour_strength(lightness: np.ndarray, ab_true: np.ndarray, ab_pred: np.ndarray, *,
                        max_pixels: int | None = None, seed: int = 0) -> dict:
    """The largest strength S of :data:`STRENGTHS` whose validation ``delta_e`` (of ``ab_pred × S``
    against ``ab_true``, L in [0, 100], ab in Lab units, :func:`colorize_core.metrics.evaluate`) is no
    worse than S = 1's. Returns ``{"chroma": S, "rule": ..., "delta_e": {S: value}, "colorfulness_gap":
    {S: value}}`` (the tried strengths' figures, for the model card)."""
    from colorize_core import metrics

    delta_e, gap = {}, {}
    for strength in STRENGTHS:
        values = metrics.evaluate(lightness, ab_true, ab_pred * np.float32(strength), max_pixels=max_pixels,
                                  seed=seed)
        delta_e[strength], gap[strength] = float(values["delta_e"]), float(values["colorfulness_gap"])
    chosen = max(s for s in STRENGTHS if delta_e[s] <= delta_e[1.0])
    return {"chroma": chosen, "rule": "the largest strength whose validation delta_e is no worse than 1's",
            "delta_e": {f"{s:g}": v for s, v in delta_e.items()},
            "colorfulness_gap": {f"{s:g}": v for s, v in gap.items()}}


def colour_strength_of_model(model, info, *, temperature=None, decode: str = "annealed_mean",
                             max_pixels: int | None = None, seed: int = 0) -> dict:
    """:func:`fit_colour_strength` of ``model`` on the validation split of the sweep ``info``
    (:class:`search.sweep_info.SweepInfo`) loaded as the sweep loaded it. When the photos cannot be
    loaded any more or have changed, or the model is a classification model (its colour strength is
    its decoding temperature), returns ``{"chroma": 1.0, "note": why}``."""
    from pathlib import Path

    from colorize_core import classification
    from colorize_core.data import load_dataset
    from colorize_core.predict import predict_ab
    from search.records import data_source

    if classification.is_classification_model(model):
        return {"chroma": 1.0, "note": "a classification model: its colour strength is its decoding temperature"}
    data = info.data
    if not data.source or not data.size:
        return {"chroma": 1.0, "note": "not fitted: sweep.json records no data source"}
    cache_dir = Path(data.cache_path).parent if data.cache_path and Path(data.cache_path).parent.is_dir() else None
    try:
        dataset = load_dataset(data_source(data.source), size=int(data.size), lab_mode=data.lab_mode,
                               cache_dir=cache_dir, pool_side=data.pool_side)
    except (OSError, ValueError) as exc:  # moved or deleted photos must not stop an export
        return {"chroma": 1.0, "note": f"not fitted: the sweep's photos could not be loaded ({exc})"}
    if data.fingerprint and dataset.fingerprint != data.fingerprint:
        return {"chroma": 1.0, "note": "not fitted: the sweep's photos changed since it ran"}
    val = dataset.val
    if len(val) == 0:
        return {"chroma": 1.0, "note": "not fitted: no validation photos"}
    ab_pred = predict_ab(model, val.lightness, temperature=temperature, decode=decode)
    return fit_colour_strength(val.lightness, val.ab, ab_pred, max_pixels=max_pixels, seed=seed)
