"""Tests for colorize_core.metrics: hand-computed values for every metric and the helpers."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from skimage.color import deltaE_ciede2000

from colorize_core import metrics as M
from colorize_core.color import lab_to_rgb, merge_lab, rgb_to_lab


def _split(n=3, h=8, w=6, seed=0, ab_range=60.0):
    rng = np.random.default_rng(seed)
    lightness = rng.uniform(5.0, 95.0, (n, h, w, 1)).astype(np.float32)
    ab = rng.uniform(-ab_range, ab_range, (n, h, w, 2)).astype(np.float32)
    return lightness, ab


# ---------------------------------------------------------------------------------------------
# Registry and directions


def test_metric_registry_and_modes():
    expected = {
        "ab_mse": "min",
        "delta_e": "min",
        "psnr": "max",
        "auc": "max",
        "colorfulness": "max",
        "colorfulness_gap": "min",
        "gain_vs_gray": "max",
    }
    assert set(M.METRICS) == set(expected)
    assert set(M.METRIC_NAMES) == set(expected)
    for name, mode in expected.items():
        spec = M.METRICS[name]
        assert spec.name == name
        assert spec.mode == mode
        assert M.metric_mode(name) == mode
        assert spec.unit and spec.description
    with pytest.raises(dataclasses.FrozenInstanceError):
        M.METRICS["psnr"].mode = "min"


def test_unknown_metric_error_lists_known_metrics():
    with pytest.raises(ValueError, match="unknown metric 'ssim'") as info:
        M.metric_mode("ssim")
    for name in M.METRIC_NAMES:
        assert name in str(info.value)
    with pytest.raises(ValueError, match="known metrics"):
        M.is_better("ssim", 1.0, 2.0)
    lightness, ab = _split()
    with pytest.raises(ValueError, match="known metrics: .*delta_e"):
        M.evaluate(lightness, ab, ab, metrics=["auc", "ssim"])


def test_is_better_follows_direction_and_nan_is_worst():
    assert M.is_better("delta_e", 1.0, 2.0)
    assert not M.is_better("delta_e", 2.0, 1.0)
    assert M.is_better("psnr", 30.0, 20.0)
    assert not M.is_better("psnr", 20.0, 30.0)
    assert M.is_better("colorfulness_gap", 0.5, 3.0)
    assert M.is_better("gain_vs_gray", 0.2, -0.1)
    assert not M.is_better("auc", 90.0, 90.0)  # strictly better
    assert not M.is_better("ab_mse", math.nan, 5.0)
    assert M.is_better("ab_mse", 5.0, math.nan)
    assert M.is_better("auc", 5.0, math.nan)
    assert not M.is_better("auc", math.nan, math.nan)


# ---------------------------------------------------------------------------------------------
# evaluate: reference predictions


def test_perfect_prediction_scores_perfectly():
    # ab range 100 puts many truth colours outside the sRGB gamut: the round trip must still give 0
    lightness, ab = _split(ab_range=100.0)
    result = M.evaluate(lightness, ab, ab.copy())
    assert list(result) == list(M.METRIC_NAMES)
    assert all(type(v) is float for v in result.values())
    assert result["ab_mse"] == 0.0
    assert result["delta_e"] == 0.0
    assert result["auc"] == 100.0
    assert result["colorfulness_gap"] == 0.0
    assert result["gain_vs_gray"] == 1.0
    assert result["psnr"] == M.PSNR_CAP == 100.0
    assert result["colorfulness"] > 0.0


def test_gray_prediction_has_zero_gain():
    lightness, ab = _split(seed=1)
    result = M.evaluate(lightness, ab, np.zeros_like(ab))
    assert result["gain_vs_gray"] == 0.0
    assert result["ab_mse"] == pytest.approx(np.mean(ab.astype(np.float64) ** 2), rel=1e-12)
    assert result["colorfulness"] == pytest.approx(0.0, abs=0.05)  # grey has no colour
    assert result["delta_e"] > 1.0


def test_all_gray_truth_gain_is_zero():
    lightness, _ = _split()
    truth = np.zeros(lightness.shape[:-1] + (2,), np.float32)
    pred = np.full_like(truth, 7.0)
    assert M.evaluate(lightness, truth, pred, metrics=["gain_vs_gray"]) == {"gain_vs_gray": 0.0}


def test_constant_offset_3_4():
    lightness, ab = _split(seed=2)
    ab = np.round(ab)  # integer ab: the offset is exact in float32
    pred = ab + np.array([3.0, 4.0], np.float32)
    result = M.evaluate(lightness, ab, pred, metrics=["ab_mse", "auc", "gain_vs_gray"])
    # squared errors 9 (a) and 16 (b): mean over both channels
    assert result["ab_mse"] == 12.5
    # L2 error 5 everywhere: share(e <= t) = 0 for t = 0..4 and 1 for t = 5..150 -> 146 of 151 thresholds
    assert result["auc"] == pytest.approx(146.0 / 151.0 * 100.0, abs=1e-9)
    gray_mse = np.mean(ab.astype(np.float64) ** 2)
    assert result["gain_vs_gray"] == pytest.approx(1.0 - 12.5 / gray_mse, rel=1e-9)


def test_auc_hand_values():
    truth = np.zeros((1, 1, 4, 2))
    # errors 0, 0.5, 150, 200: counts of thresholds t in 0..150 with e <= t: 151, 150, 1, 0
    pred = np.array([[[[0.0, 0.0], [0.3, 0.4], [90.0, 120.0], [0.0, 200.0]]]])
    assert M.auc_score(truth, pred) == pytest.approx((151 + 150 + 1 + 0) / 4 / 151 * 100, abs=1e-9)
    assert M.AUC_THRESHOLDS[0] == 0 and M.AUC_THRESHOLDS[-1] == 150 and M.AUC_THRESHOLDS.size == 151


def test_metrics_subset_and_order():
    lightness, ab = _split()
    result = M.evaluate(lightness, ab, ab * 0.5, metrics=["psnr", "ab_mse"])
    assert list(result) == ["psnr", "ab_mse"]


# ---------------------------------------------------------------------------------------------
# Colourfulness


def test_colorfulness_half_red_half_blue():
    image = np.zeros((2, 4, 3), np.float32)
    image[0, :, 0] = 1.0  # top row pure red (255, 0, 0)
    image[1, :, 2] = 1.0  # bottom row pure blue (0, 0, 255)
    # rg = R - G: 255 (red), 0 (blue) -> mean 127.5, std 127.5
    # yb = (R + G)/2 - B: 127.5 (red), -255 (blue) -> mean -63.75, std 191.25
    expected = math.sqrt(127.5**2 + 191.25**2) + 0.3 * math.sqrt(127.5**2 + 63.75**2)
    assert M.colorfulness(image) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(272.6186, abs=1e-3)


def test_colorfulness_per_image_then_mean():
    red = np.zeros((3, 3, 3), np.float32)
    red[..., 0] = 1.0
    grey = np.full((3, 3, 3), 0.5, np.float32)
    per_image = M.colorfulness(np.stack([red, grey]))
    # uniform red: no spread, mean rg = 255, yb = 127.5
    assert per_image == pytest.approx([0.3 * math.sqrt(255.0**2 + 127.5**2), 0.0], abs=1e-9)

    # evaluate: mean over images of the reconstruction's colourfulness; gap = |mean CF(pred) - mean CF(truth)|
    lightness, ab = _split(n=4, seed=3)
    pred = ab * 0.3
    pred[0] = 0.0
    result = M.evaluate(lightness, ab, pred, metrics=["colorfulness", "colorfulness_gap"])
    cf_pred = M.colorfulness(lab_to_rgb(merge_lab(lightness, pred)))
    cf_true = M.colorfulness(lab_to_rgb(merge_lab(lightness, ab)))
    assert cf_pred.shape == (4,)
    assert result["colorfulness"] == pytest.approx(float(np.mean(cf_pred)), rel=1e-9)
    assert result["colorfulness_gap"] == pytest.approx(abs(np.mean(cf_pred) - np.mean(cf_true)), rel=1e-9)
    assert np.mean(cf_pred) < np.mean(cf_true)  # gap is an absolute value even when pred is duller


# ---------------------------------------------------------------------------------------------
# PSNR


def test_psnr_uniform_8bit_error():
    a = np.full((2, 4, 4, 3), 100, np.uint8)
    b = a + np.uint8(5)
    assert M.psnr_8bit(a, b) == pytest.approx(10 * math.log10(255**2 / 25), abs=1e-12)
    assert M.psnr_8bit(b, a) == pytest.approx(34.1514, abs=1e-4)
    assert M.psnr_8bit(a, a) == M.PSNR_CAP


def test_psnr_is_over_the_whole_split_not_a_mean_of_images():
    a = np.full((2, 2, 2, 3), 50, np.uint8)
    b = a.copy()
    b[1] += 10  # image 0 exact, image 1 off by 10: MSE over the split = 100 / 2
    assert M.psnr_8bit(a, b) == pytest.approx(10 * math.log10(255**2 / 50), abs=1e-12)


def test_psnr_float_input_is_quantised_to_8bit():
    a = np.full((3, 3, 3), 0.5, np.float32)  # rint(127.5) = 128
    b = np.full((3, 3, 3), 128, np.uint8)
    assert M.psnr_8bit(a, b) == M.PSNR_CAP
    assert M.psnr_8bit(a, b - np.uint8(2)) == pytest.approx(10 * math.log10(255**2 / 4), abs=1e-12)


def test_psnr_in_evaluate_uses_8bit_reconstructions():
    lightness, ab = _split(seed=4)
    pred = ab * 0.5
    expected = M.psnr_8bit(lab_to_rgb(merge_lab(lightness, pred)), lab_to_rgb(merge_lab(lightness, ab)))
    result = M.evaluate(lightness, ab, pred, metrics=["psnr"])
    assert result["psnr"] == expected
    assert 0.0 < expected < M.PSNR_CAP


# ---------------------------------------------------------------------------------------------
# CIEDE2000 and its subsampling


def test_delta_e_round_trips_both_images_through_rgb():
    lightness, ab = _split(seed=5, ab_range=100.0)
    pred = ab * 0.5
    lab_true = rgb_to_lab(lab_to_rgb(merge_lab(lightness, ab)))
    lab_pred = rgb_to_lab(lab_to_rgb(merge_lab(lightness, pred)))
    expected = float(np.mean(deltaE_ciede2000(lab_true, lab_pred), dtype=np.float64))
    assert M.evaluate(lightness, ab, pred, metrics=["delta_e"])["delta_e"] == pytest.approx(expected, rel=1e-6)
    assert expected > 1.0


def test_delta_e_subset_is_fixed_and_close_to_full():
    lightness, ab = _split(n=4, h=32, w=32, seed=6)
    pred = ab * 0.7
    full = M.evaluate(lightness, ab, pred, metrics=["delta_e"])["delta_e"]
    sub = M.evaluate(lightness, ab, pred, metrics=["delta_e"], max_pixels=2000)["delta_e"]
    again = M.evaluate(lightness, ab, pred, metrics=["delta_e"], max_pixels=2000)["delta_e"]
    other_seed = M.evaluate(lightness, ab, pred, metrics=["delta_e"], max_pixels=2000, seed=1)["delta_e"]
    assert sub == again  # deterministic
    assert sub != full and other_seed != sub
    assert sub == pytest.approx(full, rel=0.05)
    # max_pixels at least the pixel count: every pixel, exactly the full value
    assert M.evaluate(lightness, ab, pred, metrics=["delta_e"], max_pixels=4 * 32 * 32)["delta_e"] == full

    idx = M.delta_e_subset(4 * 32 * 32, 2000, seed=0)
    assert idx.shape == (2000,) and np.unique(idx).size == 2000
    assert idx.min() >= 0 and idx.max() < 4 * 32 * 32
    np.testing.assert_array_equal(idx, M.delta_e_subset(4 * 32 * 32, 2000, seed=0))
    # deterministic from the seed alone, not just cached: a fresh draw gives the same pixels
    np.testing.assert_array_equal(idx, M._subset_cached.__wrapped__(4 * 32 * 32, 2000, 0))
    assert M.delta_e_subset(100, None) is None and M.delta_e_subset(100, 100) is None
    # the subset does not depend on the predictions: evaluated by hand on the same pixels
    lab_true = rgb_to_lab(lab_to_rgb(merge_lab(lightness, ab))).reshape(-1, 3)[idx]
    lab_pred = rgb_to_lab(lab_to_rgb(merge_lab(lightness, pred))).reshape(-1, 3)[idx]
    assert sub == pytest.approx(float(np.mean(deltaE_ciede2000(lab_true, lab_pred))), rel=1e-5)


def test_subsampling_leaves_other_metrics_unchanged():
    lightness, ab = _split(n=2, h=16, w=16, seed=7)
    pred = ab * 0.5
    full = M.evaluate(lightness, ab, pred)
    sub = M.evaluate(lightness, ab, pred, max_pixels=100)
    for name in M.METRIC_NAMES:
        if name != "delta_e":
            assert sub[name] == full[name], name


# ---------------------------------------------------------------------------------------------
# Baselines


def test_baseline_predictions():
    ab_train = np.zeros((2, 2, 2, 2), np.float32)
    ab_train[..., 0] = [[[1.0, 3.0], [1.0, 3.0]], [[1.0, 3.0], [1.0, 3.0]]]  # mean a = 2
    ab_train[..., 1] = -4.0  # mean b = -4
    preds = M.baseline_predictions(ab_train, (3, 5, 4, 2))
    assert set(preds) == {"gray", "train_mean"}
    assert preds["gray"].shape == preds["train_mean"].shape == (3, 5, 4, 2)
    assert preds["gray"].dtype == preds["train_mean"].dtype == np.float32
    assert np.all(preds["gray"] == 0.0)
    assert np.all(preds["train_mean"][..., 0] == 2.0)
    assert np.all(preds["train_mean"][..., 1] == -4.0)
    with pytest.raises(ValueError):
        M.baseline_predictions(ab_train, (3, 5, 4, 3))


def test_baseline_metrics():
    lightness, ab = _split(seed=8)
    ab_train = np.full((2, 3, 3, 2), 5.0, np.float32)
    result = M.baseline_metrics(lightness, ab, ab_train=ab_train)
    assert set(result) == {"gray", "train_mean"}
    assert result["gray"]["gain_vs_gray"] == 0.0
    assert result["gray"] == M.evaluate(lightness, ab, np.zeros_like(ab))
    assert result["train_mean"] == M.evaluate(lightness, ab, np.full_like(ab, 5.0))


# ---------------------------------------------------------------------------------------------
# Input checking


def test_evaluate_rejects_bad_inputs():
    lightness, ab = _split()
    with pytest.raises(ValueError, match="differs"):
        M.evaluate(lightness, ab, ab[:, :-1])
    with pytest.raises(ValueError, match="lightness"):
        M.evaluate(lightness[:, :-1], ab, ab)
    bad = ab.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        M.evaluate(lightness, ab, bad)
    # L without its channel axis is accepted
    assert M.evaluate(lightness[..., 0], ab, ab, metrics=["delta_e"]) == {"delta_e": 0.0}
