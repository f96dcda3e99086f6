"""colorize_core.classification: Zhang et al. 2016 ab bins, soft encoding, rebalancing, decoding,
the classification models, their loss, training through fit, and reloading a saved one."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from colorize_core import classification as cls
from colorize_core import color, metrics
from colorize_core.losses import ClsRebalanced, get_loss
from colorize_core.models import create_model, model_info
from colorize_core.train import TrainConfig, fit, predict_ab

REPO = Path(__file__).resolve().parents[2]


def _brute_nearest(ab: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    d2 = ((ab.reshape(-1, 1, 2).astype(np.float64) - cls.ab_bins()[None].astype(np.float64)) ** 2).sum(-1)
    idx = np.argsort(d2, axis=1, kind="stable")[:, :k]
    return idx, np.take_along_axis(d2, idx, axis=1)


# --- the quantised gamut ------------------------------------------------------------------------------
def test_bins_are_exactly_the_grid_cells_every_srgb_colour_reaches():
    bins = cls.ab_bins()
    assert bins.shape == (cls.num_bins(), 2) == (262, 2)
    assert np.array_equal(bins, np.rint(bins / 10) * 10)  # centres on the grid of 10
    cells = (np.rint(bins / 10).astype(int) + 16)
    stored = np.zeros((32, 32), bool)
    stored[cells[:, 0], cells[:, 1]] = True
    reached = np.zeros_like(stored)
    levels = np.arange(256, dtype=np.float32) / 255
    g, b = np.meshgrid(levels, levels, indexing="ij")
    worst = 0.0
    for red in range(0, 256, 16):  # all 2**24 colours, 16 red levels at a time
        rgb = np.stack([np.broadcast_to(levels[red:red + 16, None, None], (16, 256, 256)),
                        np.broadcast_to(g, (16, 256, 256)), np.broadcast_to(b, (16, 256, 256))], -1)
        ab = color.rgb_to_lab(rgb.reshape(16 * 256, 256, 3))[..., 1:].reshape(-1, 2)
        cell = np.rint(ab / 10).astype(int) + 16
        reached[cell[:, 0], cell[:, 1]] = True
        # every colour lies within one grid step of the centre of its own cell, and that cell is a bin
        assert stored[cell[:, 0], cell[:, 1]].all()
        worst = max(worst, float(np.abs(ab - (cell - 16) * 10).max()))
    assert worst <= 5.0 + 1e-4  # per axis: within 5√2 ≈ 7.1 < 10 Lab units in the plane
    assert np.array_equal(reached, stored)  # no bin that no sRGB colour reaches


def test_nearest_bin_matches_brute_force():
    ab = np.random.default_rng(0).uniform(-120, 120, (3000, 2)).astype(np.float32)
    idx, _ = _brute_nearest(ab, 1)
    got = cls.nearest_bin(ab)
    d_got = np.linalg.norm(cls.ab_bins()[got] - ab, axis=1)
    d_best = np.linalg.norm(cls.ab_bins()[idx[:, 0]] - ab, axis=1)
    np.testing.assert_allclose(d_got, d_best, atol=1e-4)


# --- soft encoding ------------------------------------------------------------------------------------
def test_soft_encoding_sums_to_one_over_the_five_nearest_bins_with_gaussian_weights(demo16):
    ab = demo16.train.ab[:4]
    full = cls.soft_encode(ab)
    assert full.shape == (4, 16, 16, cls.num_bins()) and full.dtype == np.float32
    np.testing.assert_allclose(full.sum(-1), 1.0, atol=1e-5)
    flat = full.reshape(-1, cls.num_bins())
    assert ((flat > 0).sum(-1) == 5).all()
    _, d2 = _brute_nearest(ab, 5)
    # each pixel's mass is on 5 of its nearest bins (ties at the 5th broken either way), with
    # weights ∝ exp(-d²/2σ²), σ = 5
    all_d2 = ((ab.reshape(-1, 1, 2) - cls.ab_bins()[None]) ** 2).sum(-1)
    assert np.all(np.where(flat > 0, all_d2, 0.0) <= d2[:, -1:] + 1e-3)
    expected = np.exp(-(d2 - d2[:, :1]) / 50.0)
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(-np.sort(-flat, axis=1)[:, :5], expected, atol=1e-5)
    # at 1/4 resolution: each output pixel is the mean of its 4×4 block of encodings
    quarter = cls.soft_encode(ab, factor=4)
    assert quarter.shape == (4, 4, 4, cls.num_bins())
    np.testing.assert_allclose(quarter.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(quarter, full.reshape(4, 4, 4, 4, 4, -1).mean(axis=(2, 4)), atol=1e-6)
    # far outside the gamut it still sums to 1 (no 0/0)
    np.testing.assert_allclose(cls.soft_encode(np.full((1, 8, 8, 2), 127.0, np.float32)).sum(-1), 1.0, atol=1e-5)


# --- rebalancing ------------------------------------------------------------------------------------
def test_rebalancing_weights_have_expectation_one_and_favour_rare_colours(demo16, tmp_path):
    p = cls.bin_distribution(demo16.train.ab)
    assert p.shape == (cls.num_bins(),) and math.isclose(p.sum(), 1.0)
    weights, smoothed = cls.rebalancing_weights(p)
    assert float(np.dot(smoothed, weights)) == pytest.approx(1.0, abs=1e-9)
    assert math.isclose(smoothed.sum(), 1.0)
    # smoothing spreads mass to neighbouring bins; the weight falls as p̃ rises
    assert (smoothed > 0).sum() > (p > 0).sum()
    order = np.argsort(smoothed)
    assert np.all(np.diff(weights[order]) <= 1e-12)
    assert weights.max() / weights.min() == pytest.approx((0.5 * smoothed.max() + 0.5 / len(p)) / (0.5 * smoothed.min() + 0.5 / len(p)))
    ones, _ = cls.rebalancing_weights(p, lam=1.0)
    np.testing.assert_allclose(ones, 1.0)
    # cached beside the data cache, keyed by the data fingerprint
    cached = cls.class_weights_for(demo16)
    np.testing.assert_allclose(cached, weights, rtol=1e-6)
    path = cls._weights_cache_file(demo16, cls.REBALANCE_LAMBDA, cls.REBALANCE_SIGMA)  # other tests may leave other weights (other λ, sources)
    assert path.parent == Path(demo16.cache_path).parent and path.name.startswith("colorsweep-abweights-")
    assert path.is_file() and np.allclose(np.load(path), weights)


# --- decoding -----------------------------------------------------------------------------------------
def test_annealed_mean_is_the_mode_at_low_temperature_and_the_mean_at_one():
    logits = np.random.default_rng(1).normal(0, 3, (2, 3, 5, cls.num_bins())).astype(np.float32)
    bins = cls.ab_bins()
    mode = cls.decode_logits(logits, decode="mode")
    np.testing.assert_array_equal(mode, bins[logits.argmax(-1)])
    np.testing.assert_allclose(cls.decode_logits(logits, temperature=1e-3), mode, atol=1e-3)
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    mean = probs @ bins
    np.testing.assert_allclose(cls.decode_logits(logits, temperature=1.0), mean, atol=1e-3)
    np.testing.assert_allclose(cls.decode_logits(logits, decode="mean", temperature=0.1), mean, atol=1e-3)
    # T between: more saturated than the mean on average (the point of annealing)
    annealed = cls.decode_logits(logits)
    assert np.linalg.norm(annealed, axis=-1).mean() > np.linalg.norm(mean, axis=-1).mean()
    with pytest.raises(ValueError, match="temperature must be a positive number"):
        cls.decode_logits(logits, temperature=0)
    with pytest.raises(ValueError, match="decode must be one of"):
        cls.decode_logits(logits, decode="median")


# --- models, loss, training -------------------------------------------------------------------------
def test_classification_models_are_registered_as_such():
    for name in ("richard_zhang_cls", "unet_cls"):
        info = model_info(name)
        assert info.head == "classification" and info.family == "classification"
    assert model_info("unet").head == "regression"
    assert create_model("richard_zhang_cls", 32).output_shape == (None, 8, 8, cls.num_bins())  # ¼ size


def test_loss_must_fit_the_architecture():
    assert TrainConfig(arch="unet_cls").loss == "cls_rebalanced"
    assert TrainConfig(arch="unet").loss == "mse"
    for arch, loss in (("unet_cls", "mse"), ("richard_zhang_cls", "huber"), ("unet", "cls_rebalanced")):
        with pytest.raises(ValueError, match=f"loss '{loss}' is a .* loss but arch '{arch}'"):
            TrainConfig(arch=arch, loss=loss)
    with pytest.raises(ValueError, match="temperature must be a positive number"):
        TrainConfig(arch="unet_cls", temperature=0.0)


def test_classification_model_trains_and_predicts_valid_ab(demo16):
    keras.utils.set_random_seed(0)
    model = create_model("unet_cls", 16, base_filters=8, depth=2)
    weights = cls.class_weights_for(demo16)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=get_loss("cls_rebalanced", class_weights=weights))
    x = color.encode_l(demo16.train.lightness[:8])
    y = cls.soft_encode(demo16.train.ab[:8], factor=4)
    losses = [float(np.asarray(model.train_on_batch(x, y)).reshape(-1)[0]) for _ in range(8)]
    assert all(math.isfinite(v) for v in losses) and losses[-1] < losses[0]
    # the loss is the rebalanced cross-entropy, averaged over pixels
    logits = np.asarray(model.predict_on_batch(x), dtype=np.float64)
    logp = logits - logits.max(-1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(-1, keepdims=True))
    expected = np.mean(-(y * logp).sum(-1) * weights[y.argmax(-1)])
    assert float(model.loss(y, logits)) == pytest.approx(expected, rel=1e-4)
    ab = predict_ab(model, demo16.val.lightness)
    assert ab.shape == demo16.val.ab.shape and np.isfinite(ab).all()
    lo, hi = cls.ab_bins().min(0), cls.ab_bins().max(0)
    assert (ab >= lo - 1e-3).all() and (ab <= hi + 1e-3).all()  # inside the bins' range
    assert not np.allclose(ab, 0.0)


def test_fit_trains_unet_cls_and_reports_finite_metrics(demo16):
    seen = []
    result = fit({"arch": "unet_cls", "epochs": 1, "batch_size": 16, "model_options": {"base_filters": 8}},
                 demo16, lambda epoch, values: seen.append(values))
    assert result.config.loss == "cls_rebalanced" and len(seen) == 1
    for name in metrics.METRICS:
        assert math.isfinite(seen[0][name]), name
    assert math.isfinite(seen[0]["val_loss"]) and seen[0]["val_loss"] > 0


def test_saved_classification_model_reloads_in_a_fresh_process(demo16, tmp_path):
    keras.utils.set_random_seed(0)
    model = create_model("unet_cls", 16, base_filters=4, depth=2)
    weights = cls.class_weights_for(demo16)
    model.compile(optimizer="adam", loss=ClsRebalanced(weights))
    x = color.encode_l(demo16.val.lightness[:4])
    model.train_on_batch(x, cls.soft_encode(demo16.val.ab[:4], factor=4))
    path = tmp_path / "cls.keras"
    model.save(path)
    np.save(tmp_path / "x.npy", x)
    expected = predict_ab(model, demo16.val.lightness[:4], temperature=0.5)
    code = (
        "import json, sys, numpy as np, keras, colorize_core.models\n"
        "from colorize_core import color\n"
        "from colorize_core.train import predict_ab\n"
        f"m = keras.saving.load_model({str(path)!r}, compile=True)\n"
        f"x = np.load({str(tmp_path / 'x.npy')!r})\n"
        "ab = predict_ab(m, color.decode_l(x), temperature=0.5)\n"
        "print(json.dumps({'loss': type(m.loss).__name__, 'w': [float(v) for v in m.loss.class_weights],"
        " 'ab': ab.tolist()}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["loss"] == "ClsRebalanced"
    np.testing.assert_allclose(got["w"], weights, rtol=1e-6)
    np.testing.assert_allclose(np.array(got["ab"]), expected, atol=1e-3)
